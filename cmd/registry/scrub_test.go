package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// TestScrubCommand damages one of two stored blobs: scrub names it and
// fails, scrub --remove removes it and still fails (the bundles holding it
// must be pushed again), and a scrub after that passes.
func TestScrubCommand(t *testing.T) {
	root := t.TempDir()
	driver, err := openDriver(context.Background(), "file://"+root)
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
	env := func(k string) string { return map[string]string{"REGISTRY_STORAGE": "file://" + root}[k] }
	for _, c := range []struct {
		args           []string
		stdout, stderr string
		errText        string // "": no error
	}{
		{nil, "corrupt " + damaged.String() + ": digest mismatch", "2 blobs checked, 1 corrupt", "1 corrupt blob(s): run scrub --remove"},
		{[]string{"--remove"}, "removed " + damaged.String(), "2 blobs checked, 1 corrupt", "1 corrupt blob(s) removed"},
		{[]string{"--storage", "file://" + root}, "", "1 blobs checked, 0 corrupt", ""},
	} {
		var stdout, stderr bytes.Buffer
		err := scrub(context.Background(), c.args, env, &stdout, &stderr)
		if (err == nil) != (c.errText == "") || err != nil && !strings.Contains(err.Error(), c.errText) ||
			!strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("scrub %q: error %v, stdout %q, stderr %q; want %q, %q, %q", c.args, err, stdout.String(), stderr.String(), c.errText, c.stdout, c.stderr)
		}
	}
}
