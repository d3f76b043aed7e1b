package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundletest"
)

// readCase reads interop case name's case.json.
func readCase(t *testing.T, name string) *bundletest.InteropCase {
	t.Helper()
	c, err := bundletest.ReadInteropCase(fixture(name, ""))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushArgs turns a case's push flags into regctl push arguments.
func pushArgs(t *testing.T, name string, c *bundletest.InteropCase, ref string) []string {
	p := c.Push
	features := filepath.Join(t.TempDir(), "features")
	os.WriteFile(features, []byte(strings.Join(p.Features, "\n")), 0o644)
	args := []string{"push", ref, "--weights", fixture(name, p.Weights), "--mode", p.Mode, "--features", features,
		"--input-tensor", p.InputTensor, "--input-axis", strconv.Itoa(p.InputAxis)}
	if p.Scaler != nil {
		args = append(args, "--scaler", fixture(name, *p.Scaler))
	}
	if p.BatchSize != nil {
		args = append(args, "--batch-size", strconv.Itoa(*p.BatchSize))
	}
	for flag, on := range map[string]bool{"--no-scaler": p.NoScaler, "--bn-frozen": p.BNFrozen} {
		if on {
			args = append(args, flag)
		}
	}
	return args
}

// TestInteropFixtures pushes every fixture made by real PyTorch and
// scikit-learn through a real registry and asserts the exact outcome and
// finding ids; for accepted bundles, the BatchNorm statistics regctl
// extracted and the scaler it shows equal what torch and sklearn computed.
func TestInteropFixtures(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	dirs, err := os.ReadDir(filepath.Join(registrytest.ModuleRoot(), "testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if _, err := os.Stat(fixture(d.Name(), "case.json")); err != nil {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) { interopCaseTest(t, env, d.Name()) })
	}
	if n < 10 {
		t.Fatalf("found %d interop cases, want the committed ones (17)", n)
	}
}

func interopCaseTest(t *testing.T, env map[string]string, name string) {
	c := readCase(t, name)
	repo := "interop/" + name
	args := pushArgs(t, name, c, repo+":v1")
	if c.Push.Parent != nil {
		pc := readCase(t, *c.Push.Parent)
		regctl(t, env, "", pushArgs(t, *c.Push.Parent, pc, repo+":parent")...).must(t, exitOK, "push of the parent")
		args = append(args, "--parent", repo+":parent")
	}
	want := map[string]int{"ok": exitOK, "refused": exitRefused}[c.Expect.Outcome]
	r := regctl(t, env, "", args...).must(t, want, "push")
	var wantIDs []string
	for _, id := range c.Expect.Findings {
		wantIDs = append(wantIDs, string(id))
	}
	slices.Sort(wantIDs)
	if got := findingIDs(r.stderr); !slices.Equal(got, wantIDs) {
		t.Fatalf("findings %v, want %v\nstderr: %s", got, wantIDs, r.stderr)
	}
	if want == exitRefused {
		if r.stdout != "" {
			t.Fatalf("a refused push printed %q", r.stdout)
		}
		if _, err := regctlResolve(t, env, repo+":v1"); err == nil {
			t.Fatal("a refused push stored the tag")
		}
		return
	}
	assertExtracted(t, env, name, repo+"@"+r.line())
}

// regctlResolve resolves ref with regctl, returning an error text on failure.
func regctlResolve(t *testing.T, env map[string]string, ref string) (string, error) {
	r := regctl(t, env, "", "resolve", ref)
	if r.code != exitOK {
		return "", os.ErrNotExist
	}
	return r.line(), nil
}

// assertExtracted pulls an accepted bundle and compares its bnstats layer
// and inspect's scaler table with the libraries' values in expected.json.
func assertExtracted(t *testing.T, env map[string]string, name, pinned string) {
	exp, err := bundletest.ReadInteropExpected(fixture(name, ""))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "b")
	regctl(t, env, "", "pull", pinned, "-o", out).must(t, exitOK, "pull")
	raw, err := os.ReadFile(filepath.Join(out, manifest.FileBNStats))
	if err != nil {
		t.Fatal(err)
	}
	bn, err := manifest.ParseBNStats(raw)
	if err != nil || len(bn.Layers) != len(exp.BN) {
		t.Fatalf("bnstats: %v, %d layers; want %d", err, len(bn.Layers), len(exp.BN))
	}
	for _, l := range bn.Layers {
		e := exp.BN[l.Name]
		if !slices.Equal(l.RunningMean, e.RunningMean) || !slices.Equal(l.RunningVar, e.RunningVar) || l.NumBatchesTracked != e.NumBatchesTracked {
			t.Errorf("layer %s: regctl extracted mean %v var %v n %d; torch has %v %v %d",
				l.Name, l.RunningMean, l.RunningVar, l.NumBatchesTracked, e.RunningMean, e.RunningVar, e.NumBatchesTracked)
		}
	}
	var in inspection
	if err := json.Unmarshal([]byte(regctl(t, env, "", "inspect", pinned, "--json").must(t, exitOK, "inspect").stdout), &in); err != nil {
		t.Fatal(err)
	}
	if exp.Scaler == nil {
		return
	}
	raw, err = os.ReadFile(fixture(name, "scaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	var flags struct { // as scikit-learn wrote them: transform subtracts mean_ only with with_mean
		WithMean bool `json:"with_mean"`
	}
	if err := json.Unmarshal(raw, &flags); err != nil {
		t.Fatal(err)
	}
	for i, row := range in.Scaler {
		mean := exp.Scaler.Mean[i]
		if !flags.WithMean {
			mean = 0
		}
		if float64(row.Mean) != mean || float64(row.Std) != exp.Scaler.Scale[i] {
			t.Errorf("scaler row %d %s: subtracts %v, divides by %v; sklearn's transform %v, %v", i, row.Feature, row.Mean, row.Std, mean, exp.Scaler.Scale[i])
		}
	}
	if len(in.Scaler) != len(exp.Scaler.Mean) {
		t.Errorf("inspect shows %d scaler rows, sklearn has %d features", len(in.Scaler), len(exp.Scaler.Mean))
	}
}

// TestHandmadeBundleWithOras assembles bundles by hand with oras, from a
// good bundle's files with the scaler layer removed or replaced by another
// scaler, on a registry that runs no checks; regctl pull and verify refuse
// them.
func TestHandmadeBundleWithOras(t *testing.T) {
	oras := registrytest.Tool(t, "oras")
	host, _ := registrytest.Distribution(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	c := readCase(t, "mlp")
	d := regctl(t, env, "", pushArgs(t, "mlp", c, "good:v1")...).must(t, exitOK, "push").line()
	dir := filepath.Join(t.TempDir(), "good")
	regctl(t, env, "", "pull", "good@"+d, "-o", dir).must(t, exitOK, "pull")
	refit, _ := os.ReadFile(fixture("scaler-refit", "scaler.json"))
	os.WriteFile(filepath.Join(dir, "other-scaler.json"), refit, 0o644)

	for _, tc := range []struct {
		name   string
		layers []string
		want   artifact.CheckID
	}{
		{"noscaler", nil, artifact.ScalerMissing},
		{"otherscaler", []string{"other-scaler.json:" + manifest.MediaTypeScaler}, artifact.ScalerMismatch},
	} {
		args := append([]string{"push", "--plain-http", host + "/handmade:" + tc.name,
			"--artifact-type", manifest.ArtifactTypeBundle, "--config", "config.json:" + manifest.MediaTypeConfig,
			"weights.safetensors:" + manifest.MediaTypeWeights, "bnstats.pb:" + manifest.MediaTypeBNStats}, tc.layers...)
		cmd := exec.Command(oras, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oras %v: %v\n%s", args, err, out)
		}
		out := filepath.Join(t.TempDir(), "out")
		r := regctl(t, env, "", "pull", "handmade:"+tc.name, "-o", out).must(t, exitRefused, "pull of "+tc.name)
		if !slices.Contains(findingIDs(r.stderr), string(tc.want)) {
			t.Errorf("pull of %s: findings %v, want %s", tc.name, findingIDs(r.stderr), tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("refused pull of %s wrote %s", tc.name, out)
		}
		r = regctl(t, env, "", "verify", "handmade:"+tc.name).must(t, exitRefused, "verify of "+tc.name)
		if !slices.Contains(findingIDs(r.stderr), string(tc.want)) {
			t.Errorf("verify of %s: findings %v, want %s", tc.name, findingIDs(r.stderr), tc.want)
		}
	}
}
