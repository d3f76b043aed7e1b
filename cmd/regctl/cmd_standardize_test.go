package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
)

// TestStandardizeMatchesSklearn standardises the fixtures' raw rows with
// bundles pulled from a real registry: the output equals scikit-learn's
// transform (std.csv) to 1e-12 relative, columns in the model's order even
// when the input has them in another order.
func TestStandardizeMatchesSklearn(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	for _, name := range []string{"mlp", "cnn", "mlp-nomean"} {
		pinned := pushCase(t, env, name, "std/"+name)
		out := filepath.Join(t.TempDir(), "std.csv")
		r := regctl(t, env, "", "standardize", pinned, "--in", fixture(name, "raw.csv"), "--out", out).must(t, exitOK, "standardize "+name)
		if r.line() != out {
			t.Errorf("printed %q, want %s", r.line(), out)
		}
		header, rows := readCSV(t, out)
		wantHeader, _ := readCSV(t, fixture(name, "std.csv"))
		if !slices.Equal(header, wantHeader) {
			t.Errorf("%s header %v, want %v", name, header, wantHeader)
		}
		assertSklearn(t, name, rows)
	}
	pinned := pushCase(t, env, "mlp", "std/mlp")
	reversed := filepath.Join(t.TempDir(), "reversed.csv")
	os.WriteFile(reversed, []byte(reverseColumns(t, fixture("mlp", "raw.csv"))), 0o644)
	out := filepath.Join(t.TempDir(), "std.csv")
	regctl(t, env, "", "standardize", pinned, "--in", reversed, "--out", out).must(t, exitOK, "standardize of reordered columns")
	_, rows := readCSV(t, out)
	assertSklearn(t, "mlp", rows)
}

// reverseColumns returns a CSV file's text with its columns reversed.
func reverseColumns(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, ",")
		slices.Reverse(f)
		lines = append(lines, strings.Join(f, ","))
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestStandardizeRefusesColumns refuses input lacking a feature, writing
// nothing: neither the output nor a temp file is left.
func TestStandardizeRefusesColumns(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	pinned := pushCase(t, env, "mlp", "std/mlp")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("age,income,tenure_months,num_products,credit_score\n1,2,3,4,5\n"), 0o644)
	out := filepath.Join(dir, "out", "std.csv")
	os.Mkdir(filepath.Dir(out), 0o755)
	r := regctl(t, env, "", "standardize", pinned, "--in", in, "--out", out).must(t, exitError, "standardize without balance")
	if !strings.Contains(r.stderr, `missing "balance"`) || r.stdout != "" {
		t.Errorf("stderr %q stdout %q; want the missing column named", r.stderr, r.stdout)
	}
	if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
		t.Errorf("a refused standardize left %v", left)
	}
}
