package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// registry is a real OCI registry under test: its host, and where the bytes
// of a blob are on its disk.
type registry struct {
	name     string
	host     string
	blobFile func(d artifact.Digest) string
}

// registries starts normreg (fs driver, real HTTP) and CNCF distribution.
func registries(t *testing.T) []registry {
	nh, nroot := registrytest.Normreg(t)
	dh, droot := registrytest.Distribution(t)
	return []registry{
		{"normreg", nh, func(d artifact.Digest) string {
			return filepath.Join(nroot, "blobs", string(d.Algorithm()), d.Hex())
		}},
		{"distribution", dh, func(d artifact.Digest) string {
			return filepath.Join(droot, "docker/registry/v2/blobs", string(d.Algorithm()), d.Hex()[:2], d.Hex(), "data")
		}},
	}
}

// fixture is the path of a file of an interop case.
func fixture(name, file string) string {
	return filepath.Join(registrytest.ModuleRoot(), "testdata", "interop", name, file)
}

// TestDeployScript is what a deploy script does with regctl, against
// normreg and against another OCI registry: push, tag, resolve to a digest,
// verify, pull by digest; then a stored blob is corrupted and pull refuses
// with digest-mismatch, writing nothing.
func TestDeployScript(t *testing.T) {
	for _, reg := range registries(t) {
		t.Run(reg.name, func(t *testing.T) { deployScript(t, reg) })
	}
}

func deployScript(t *testing.T, reg registry) {
	env := map[string]string{"REGCTL_REGISTRY": reg.host, "XDG_CACHE_HOME": t.TempDir()} // the second push finds the weights digest cached
	features := filepath.Join(t.TempDir(), "features.txt")
	os.WriteFile(features, []byte("age\nincome\ntenure_months\nbalance\nnum_products\ncredit_score\n"), 0o644)
	d := regctl(t, env, "", "push", "team/churn:v1", "--weights", fixture("mlp", "weights.safetensors"),
		"--scaler", fixture("mlp", "scaler.json"), "--mode", "eval", "--features", features,
		"--input-tensor", "net.0.weight", "--batch-size", "32", "--label", "owner=risk").must(t, exitOK, "push").line()
	if _, err := artifact.ParseDigest(d); err != nil {
		t.Fatalf("push printed %q, want only a digest: %v", d, err)
	}
	if got := regctl(t, env, "", "tag", "team/churn:v1", "prod").must(t, exitOK, "tag").line(); got != d {
		t.Fatalf("tag printed %q, want %s", got, d)
	}
	if got := regctl(t, env, "", "resolve", reg.host+"/team/churn:prod").must(t, exitOK, "resolve").line(); got != d {
		t.Fatalf("resolve printed %q, want %s", got, d)
	}
	if got := regctl(t, env, "", "tags", "team/churn").must(t, exitOK, "tags").stdout; got != "prod\nv1\n" {
		t.Fatalf("tags printed %q", got)
	}
	if got := regctl(t, env, "", "ls").must(t, exitOK, "ls").stdout; got != "team/churn\n" {
		t.Fatalf("ls printed %q", got)
	}
	pinned := "team/churn@" + d
	regctl(t, env, "", "verify", pinned, "--features", features).must(t, exitOK, "verify")
	serving := filepath.Join(t.TempDir(), "serving.txt")
	os.WriteFile(serving, []byte("income,age,tenure_months,balance,num_products,credit_score"), 0o644)
	r := regctl(t, env, "", "verify", pinned, "--features", serving).must(t, exitRefused, "verify with swapped serving features")
	if ids := findingIDs(r.stderr); !slices.Equal(ids, []string{"scaler-mismatch"}) {
		t.Fatalf("verify with swapped serving features: findings %v, want scaler-mismatch\n%s", ids, r.stderr)
	}
	text := regctl(t, env, "", "inspect", pinned).must(t, exitOK, "inspect").stdout
	for _, want := range []string{d, "mode           eval", "6: age, income, tenure_months", "net.4", "owner=risk", "findings  0", "config         application/vnd.normreg.config.v1+json"} {
		if !strings.Contains(text, want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, text)
		}
	}
	js := regctl(t, env, "", "inspect", pinned, "--json").must(t, exitOK, "inspect --json").stdout
	for _, want := range []string{`"bn_frozen": false`, `"parent": ""`, `"config": {`} {
		if !strings.Contains(js, want) {
			t.Fatalf("inspect --json lacks %s (the text shows it):\n%s", want, js)
		}
	}
	out := filepath.Join(t.TempDir(), "model")
	if got := regctl(t, env, "", "pull", pinned, "-o", out).must(t, exitOK, "pull").line(); got != out {
		t.Fatalf("pull printed %q, want %s", got, out)
	}
	for _, f := range []string{"weights.safetensors", "scaler.json"} {
		want, _ := os.ReadFile(fixture("mlp", f))
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("pulled %s differs from the pushed file (%v)", f, err)
		}
	}
	if again := regctl(t, env, "", "push", "team/churn:v2", "--weights", fixture("mlp", "weights.safetensors"),
		"--scaler", fixture("mlp", "scaler.json"), "--mode", "eval", "--features", features, "--input-tensor", "net.0.weight",
		"--batch-size", "32", "--label", "owner=risk").must(t, exitOK, "second push").line(); again != d {
		t.Fatalf("the same inputs gave digest %s, then %s", d, again)
	}
	corruptAndPull(t, reg, env, pinned, filepath.Join(out, "weights.safetensors"))
}

// corruptAndPull flips the last byte of the stored weights blob and checks
// that pull and verify refuse with digest-mismatch and pull writes nothing.
func corruptAndPull(t *testing.T, reg registry, env map[string]string, pinned, weights string) {
	data, _ := os.ReadFile(weights)
	stored := artifact.FromBytes(artifact.SHA256, data)
	path := reg.blobFile(stored)
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("corrupting the stored blob: %v", err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "model")
	r := regctl(t, env, "", "pull", pinned, "-o", out).must(t, exitRefused, "pull of a corrupted bundle")
	if !strings.Contains(r.stderr, "refuse digest-mismatch:") || r.stdout != "" {
		t.Fatalf("pull of a corrupted bundle: stderr %q stdout %q; want a digest-mismatch finding", r.stderr, r.stdout)
	}
	if n := strings.Count(r.stderr, "blob "+stored.String()); n != 1 {
		t.Fatalf("pull of a corrupted bundle named the blob %d times, want once: %q", n, r.stderr)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Fatalf("a refused pull left %v behind", left)
	}
	r = regctl(t, env, "", "verify", pinned, "--json").must(t, exitRefused, "verify of a corrupted bundle")
	if !strings.Contains(r.stdout, `"id": "digest-mismatch"`) || !strings.Contains(r.stdout, `"refused": true`) {
		t.Fatalf("verify --json of a corrupted bundle printed %s", r.stdout)
	}
}

// TestMissingTagExit1 checks an unknown tag is an error naming the OCI
// code, on stderr: with --json too, stdout stays empty (README).
func TestMissingTagExit1(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	for _, args := range [][]string{{"resolve", host + "/team/none:v1"}, {"verify", host + "/team/none:v1", "--json"}, {"inspect", host + "/team/none:v1", "--json"}} {
		r := regctl(t, map[string]string{}, "", args...)
		if r.code != exitError || r.stdout != "" || !strings.Contains(r.stderr, "MANIFEST_UNKNOWN") && !strings.Contains(r.stderr, "NAME_UNKNOWN") {
			t.Errorf("%s: exit %d stdout %q stderr %q; want exit 1, nothing on stdout, the OCI error code on stderr", args[0], r.code, r.stdout, r.stderr)
		}
	}
}

// findingIDs returns the distinct finding ids regctl printed, sorted.
func findingIDs(stderr string) []string {
	var ids []string
	for _, line := range strings.Split(stderr, "\n") {
		sev, rest, _ := strings.Cut(line, " ")
		id, _, ok := strings.Cut(rest, ":")
		if ok && (sev == string(artifact.Refuse) || sev == string(artifact.Warning)) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
