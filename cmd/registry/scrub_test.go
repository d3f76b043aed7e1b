package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// TestScrubCommand damages one of two stored blobs and leaves two objects
// under blobdata/ that nothing names and two temp files of cut-off Puts,
// one of each written two hours ago and one now: scrub names the damaged
// blob and fails, names the old orphan and counts the old temp file (not
// the fresh ones, which may be writes in flight); scrub --remove removes
// them and still fails (the bundles holding the blob must be pushed
// again); a scrub after that passes and finds nothing, and one with an
// --upload-ttl below the fresh ones' age finds them.
func TestScrubCommand(t *testing.T) {
	root := t.TempDir()
	driver, err := openDriver(context.Background(), "file://"+root, false)
	if err != nil {
		t.Fatal(err)
	}
	s := storage.New(driver)
	var damaged artifact.Digest
	for _, content := range []string{"a layer", "a config"} {
		damaged = artifact.FromBytes(artifact.SHA256, []byte(content))
		if _, err := s.Blobs.Put(context.Background(), "team/m", damaged, int64(len(content)), strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "blobs", "sha256", damaged.Hex()), []byte("A CONFIG"), 0o644); err != nil {
		t.Fatal(err)
	}
	leave := func(dir, name string, age time.Duration) {
		p := filepath.Join(root, dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("cut off"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, time.Now().Add(-age), time.Now().Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	leave("blobdata", "old", 2*time.Hour)
	leave("blobdata", "fresh", 0)
	leave(".tmp", "put-old", 2*time.Hour) // a Put cut off by a crash
	leave(".tmp", "put-fresh", 0)
	env := func(k string) string {
		return map[string]string{"REGISTRY_STORAGE": "file://" + root, "REGISTRY_UPLOAD_TTL": "1h"}[k]
	}
	for _, c := range []struct {
		args           []string
		stdout, stderr string
		errText        string // "": no error
	}{
		{nil, "corrupt " + damaged.String() + ": digest mismatch",
			"2 blobs checked, 1 corrupt; 1 orphan blob data objects (7 bytes) and 1 unfinished writes (temp files, multipart uploads) older than 1h0m0s\n", "1 corrupt blob(s): run scrub --remove"},
		{nil, "orphan blobdata/old: 7 bytes", "", "1 corrupt blob(s): run scrub --remove"},
		{[]string{"--remove"}, "removed " + damaged.String(),
			"2 blobs checked, 1 corrupt; 1 orphan blob data objects (7 bytes) and 1 unfinished writes (temp files, multipart uploads) older than 1h0m0s, removed", "1 corrupt blob(s) removed"},
		{[]string{"--storage", "file://" + root}, "", "1 blobs checked, 0 corrupt; 0 orphan blob data objects (0 bytes) and 0 unfinished writes", ""},
		{[]string{"--upload-ttl", "1ns"}, "orphan blobdata/fresh: 7 bytes", "1 blobs checked, 0 corrupt; 1 orphan blob data objects (7 bytes) and 1 unfinished writes", ""},
		{[]string{"--upload-ttl", "0s"}, "", "", "--upload-ttl 0s: must be positive"},
	} {
		var stdout, stderr bytes.Buffer
		err := scrub(context.Background(), c.args, env, &stdout, &stderr)
		if (err == nil) != (c.errText == "") || err != nil && !strings.Contains(err.Error(), c.errText) ||
			!strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("scrub %q: error %v, stdout %q, stderr %q; want %q, %q, %q", c.args, err, stdout.String(), stderr.String(), c.errText, c.stdout, c.stderr)
		}
	}
}

// TestScrubWritesNothing: scrub without --remove opens a file:// directory
// without writing to it, so that it can check a read-only copy (a backup,
// a read-only mount): on a copy without .tmp and .locks it creates neither;
// a directory that does not exist is an error, not one created empty.
func TestScrubWritesNothing(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "missing")
	env := func(k string) string { return map[string]string{"REGISTRY_STORAGE": "file://" + root}[k] }
	var stderr bytes.Buffer
	if err := scrub(context.Background(), nil, env, io.Discard, &stderr); err != nil || !strings.Contains(stderr.String(), "0 blobs checked") {
		t.Fatalf("scrub of an empty copy: %v, stderr %q", err, stderr.String())
	}
	for _, dir := range []string{".tmp", ".locks"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			t.Errorf("scrub without --remove created %s", dir)
		}
	}
	if err := scrub(context.Background(), []string{"--storage", "file://" + missing}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("scrub of a directory that does not exist: %v, want an error naming it", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("scrub created %s", missing)
	}
}
