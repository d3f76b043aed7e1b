package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// TestDiffFineTunes pushes mlp and two fine-tunes of it to a real registry:
// diff to the proper fine-tune reports both BatchNorm layers moved
// (num_batches_tracked 160 -> 192); diff to the stale fine-tune (pushed
// without --parent, so the registry holds it) reports them unchanged while
// the weights changed.
func TestDiffFineTunes(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	base := pushCase(t, env, "mlp", "diff/mlp")
	for name, want := range map[string]string{"finetune-ok": artifact.BNMoved, "finetune-stale": artifact.BNUnchanged} {
		other := pushCase(t, env, name, "diff/"+name)
		for _, extra := range [][]string{nil, {"--tensor-bytes"}} {
			r := regctl(t, env, "", append([]string{"diff", base, other, "--json"}, extra...)...).must(t, exitOK, "diff to "+name)
			var d diffOutput
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if len(d.BatchNorm) != 2 || d.BatchNorm[0].Status != want || d.BatchNorm[1].Status != want {
				t.Errorf("%s: BatchNorm %+v, want both %s", name, d.BatchNorm, want)
			}
			if d.Weights.Same || len(d.Scaler) != 6 || d.Scaler[1].MeanShift != 0 {
				t.Errorf("%s: weights same %v, scaler %+v", name, d.Weights.Same, d.Scaler)
			}
			if sl := d.ScalerLayer; !sl.Same || sl.OldDigest == "" || sl.OldDigest != sl.NewDigest { // the fine-tunes ship mlp's scaler
				t.Errorf("%s: scaler layer %+v; want the same digest on both sides", name, sl)
			}
			if bytesCompared := len(d.Weights.Unknown) == 0; bytesCompared != (extra != nil) {
				t.Errorf("%s %v: %d tensors' bytes not compared", name, extra, len(d.Weights.Unknown))
			}
		}
		text := regctl(t, env, "", "diff", base, other).must(t, exitOK, "diff text").stdout
		if !strings.Contains(text, "net.1") || !strings.Contains(text, " "+want+" ") {
			t.Errorf("%s: text diff lacks %q:\n%s", name, want, text)
		}
	}
	// Another model's scaler is another file: the scaler layer is not the same, in the text too.
	text := regctl(t, env, "", "diff", base, pushCase(t, env, "cnn", "diff/cnn")).must(t, exitOK, "diff to another scaler").stdout
	if !regexp.MustCompile(`scaler layer +sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64} \(same false\)`).MatchString(text) {
		t.Errorf("diff to another scaler: text lacks the scaler layer line with same false:\n%s", text)
	}
	r := regctl(t, env, "", "diff", base, pushCase(t, env, "finetune-ok", "diff/ok2"), "--json").must(t, exitOK, "diff")
	var d diffOutput
	json.Unmarshal([]byte(r.stdout), &d)
	if l := d.BatchNorm[0]; l.OldTracked != 160 || l.NewTracked != 192 || l.MaxMeanShift <= 0 {
		t.Errorf("net.1: %+v; want num_batches_tracked 160 -> 192 and a mean shift", l)
	}
}

// TestDiffReadsNoWholeWeights diffs through a proxy that records every
// request for a weights blob: all of them, diff's own reads (header,
// per-tensor digests) and the checks' (header, BatchNorm tensors), are
// closed ranges.
func TestDiffReadsNoWholeWeights(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	base := pushCase(t, env, "mlp", "diff/mlp")
	other := pushCase(t, env, "finetune-ok", "diff/mlp")
	phost, rec := recordWeightsReads(t, host, "mlp", "finetune-ok")
	regctl(t, map[string]string{"REGCTL_REGISTRY": phost}, "", "diff", base, other, "--tensor-bytes").must(t, exitOK, "diff through the proxy")
	whole, closed, open := rec.split()
	if whole > 0 || len(open) > 0 {
		t.Fatalf("weights read whole %d times and by open-ended ranges %v; want closed ranges only", whole, open)
	}
	if len(closed) < 2*10 { // two header reads and 16 tensors per weights
		t.Errorf("%d closed ranged reads, want diff's header and per-tensor reads: %v", len(closed), closed)
	}
}

// TestDiffEqualsModelAPI diffs mlp and its proper fine-tune, pushed to one
// repository, with regctl and through the registry's model API: the JSON
// is the same but for the references' spelling (regctl's name the host).
func TestDiffEqualsModelAPI(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	base := pushCase(t, env, "mlp", "diff/mlp")
	other := pushCase(t, env, "finetune-ok", "diff/mlp")
	for _, extra := range [][]string{nil, {"--tensor-bytes"}} {
		var cli, srv diffOutput
		r := regctl(t, env, "", append([]string{"diff", base, other, "--json"}, extra...)...).must(t, exitOK, "diff")
		if err := json.Unmarshal([]byte(r.stdout), &cli); err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://%s/api/v1/models/diff/mlp/diff?from=%s&to=%s&tensor_bytes=%v",
			host, cli.FromDigest, cli.ToDigest, extra != nil)
		getJSON(t, url, &srv)
		if srv.From != base || srv.To != other || !strings.HasSuffix(cli.From, base) || !strings.HasSuffix(cli.To, other) {
			t.Errorf("references: regctl %s -> %s, API %s -> %s; want %s -> %s", cli.From, cli.To, srv.From, srv.To, base, other)
		}
		cli.From, cli.To, srv.From, srv.To = "", "", "", ""
		want, _ := json.Marshal(cli)
		got, _ := json.Marshal(srv)
		if string(got) != string(want) || cli.BatchNorm[0].Status != artifact.BNMoved {
			t.Errorf("%v: API diff\n%s\nregctl diff --json\n%s", extra, got, want)
		}
	}
}

// getJSON GETs url and decodes its JSON body into v, expecting 200.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestDiffLayersAddedRemoved: between two models with other BatchNorm layers
// (mlp, cnn) each layer is added or removed, shown without shift or ratio
// ("-"), which there is nothing to compute from (they showed 0 and 0..0).
func TestDiffLayersAddedRemoved(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	r := regctl(t, env, "", "diff", pushCase(t, env, "mlp", "diff/mlp"), pushCase(t, env, "cnn", "diff/cnn")).must(t, exitOK, "diff mlp cnn")
	for _, want := range []string{`features\.1\s+added\s+8\s+-\s+-\s+0 -> \d+`, `net\.4\s+removed\s+8\s+-\s+-\s+\d+ -> 0`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("diff does not match %s:\n%s", want, r.stdout)
		}
	}
}
