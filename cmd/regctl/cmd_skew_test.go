package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// pushCase pushes an interop case (without its parent) to a registry and
// returns the pinned reference repo@digest.
func pushCase(t *testing.T, env map[string]string, name, repo string) string {
	t.Helper()
	c := readCase(t, name)
	d := regctl(t, env, "", pushArgs(t, name, c, repo+":v1")...).must(t, exitOK, "push of "+name).line()
	return repo + "@" + d
}

// readCSV reads every row of a CSV file with a header line (tests only).
func readCSV(t *testing.T, path string) (header []string, rows [][]float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := artifact.NewRowReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		row, err := rr.Next()
		if err == io.EOF {
			return rr.Header(), rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, slices.Clone(row))
	}
}

// assertSklearn fails unless rows equal the fixture's std.csv (sklearn's
// transform) to 1e-12 relative.
func assertSklearn(t *testing.T, name string, rows [][]float64) {
	t.Helper()
	_, want := readCSV(t, fixture(name, "std.csv"))
	if len(rows) != len(want) {
		t.Fatalf("%d rows, sklearn has %d", len(rows), len(want))
	}
	for i := range want {
		for j, w := range want[i] {
			if g := rows[i][j]; math.Abs(g-w) > 1e-12*math.Abs(w) {
				t.Errorf("%s row %d col %d: %v, sklearn has %v", name, i, j, g, w)
			}
		}
	}
}

// TestSkewOnFixtures checks production samples against bundles pushed to a
// real registry: the training-like sample passes (exit 0); the shifted one
// is flagged on exactly the two shifted features (exit 3); the per-request
// standardised one is recognised and said so (exit 3).
func TestSkewOnFixtures(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	for _, name := range []string{"mlp", "cnn", "mlp-nomean"} {
		pinned := pushCase(t, env, name, "skew/"+name)
		r := regctl(t, env, "", "skew", pinned, "--data", fixture(name, "sample-ok.csv")).must(t, exitOK, name+" sample-ok")
		if !strings.Contains(r.stdout, "no skew past the thresholds") {
			t.Errorf("%s sample-ok: %s", name, r.stdout)
		}
		r = regctl(t, env, "", "skew", pinned, "--data", fixture(name, "sample-shifted.csv"), "--json").must(t, exitRefused, name+" sample-shifted")
		var out skewOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, r.stdout)
		}
		c := readCase(t, name)
		if !slices.Equal(out.Flagged, c.Samples.ShiftedFeatures) || !out.Refused || out.Rows != 500 {
			t.Errorf("%s sample-shifted: flagged %v, want %v (refused %v, %d rows)", name, out.Flagged, c.Samples.ShiftedFeatures, out.Refused, out.Rows)
		}
		r = regctl(t, env, "", "skew", pinned, "--data", fixture(name, "sample-standardized.csv")).must(t, exitRefused, name+" sample-standardized")
		if !strings.Contains(r.stdout, "looks already standardised: per-request standardisation upstream") {
			t.Errorf("%s sample-standardized not recognised: %s", name, r.stdout)
		}
	}
}

// TestSkewThresholdAndColumns raises the shift threshold past the fixture's
// 1.5 std shift, refuses thresholds that could flag nothing or everything
// (naming only those), and reports a dropped column as missing.
func TestSkewThresholdAndColumns(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	pinned := pushCase(t, env, "mlp", "skew/mlp")
	regctl(t, env, "", "skew", pinned, "--data", fixture("mlp", "sample-shifted.csv"),
		"--threshold-shift", "2", "--threshold-psi", "5").must(t, exitOK, "shifted sample under raised thresholds")
	for _, bad := range [][]string{{"--threshold-psi", "-1"}, {"--threshold-shift", "0"}, {"--threshold-std", "0.5"}} {
		r := regctl(t, env, "", append([]string{"skew", pinned, "--data", fixture("mlp", "sample-ok.csv")}, bad...)...)
		if r.code != exitError || !strings.Contains(r.stderr, "skew thresholds: "+bad[0]+" "+bad[1]+" must be") {
			t.Errorf("skew %v: exit %d, stderr %q; want a usage error naming %s", bad, r.code, r.stderr, bad[0])
		}
		if strings.Count(r.stderr, "--threshold-") != 1 {
			t.Errorf("skew %v: stderr %q names thresholds that were fine", bad, r.stderr)
		}
	}
	data := t.TempDir() + "/rows.jsonl"
	os.WriteFile(data, []byte(`{"income": 50000, "age": 40}`+"\n"+`{"age": 42, "income": 52000}`+"\n"), 0o644)
	r := regctl(t, env, "", "skew", pinned, "--data", data, "--json").must(t, exitRefused, "skew with missing columns")
	var out skewOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Columns.Missing) != 4 || out.Columns.OutOfOrder || out.Rows != 2 {
		t.Errorf("columns %+v, %d rows; want 4 missing, and no order in JSON objects", out.Columns, out.Rows)
	}
}
