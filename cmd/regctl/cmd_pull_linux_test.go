package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/internal/writeback/writebacktest"
)

// TestPullWritesWeightsAroundPageCache pulls a bundle whose weights are
// larger than directMin: by default every file goes through the page cache
// (all its pages there afterwards); with --direct the weights file is
// written with direct I/O (almost none of its pages in the cache) and the
// small files through the cache. Both pulls write the same bytes as were
// pushed.
func TestPullWritesWeightsAroundPageCache(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts, w := largeBundle(t, env)
	regctl(t, env, "", opts.args("team/large:v1")...).must(t, exitOK, "push")
	dir := t.TempDir()
	if writebacktest.InPageCache(t, dir) {
		t.Logf("%s is on tmpfs, whose files live in the page cache: only the bytes are compared", dir)
	}
	for _, flags := range [][]string{nil, {"--direct"}} {
		out := filepath.Join(dir, "out"+strings.Join(flags, ""))
		regctl(t, env, "", append([]string{"pull", "team/large:v1", "-o", out}, flags...)...).must(t, exitOK, "pull")
		checkPageCache(t, flags, out)
		got, err := os.ReadFile(filepath.Join(out, "weights.safetensors")) // now in the page cache
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("pull %v: weights.safetensors holds %d bytes (%v), want the %d pushed", flags, len(got), err, len(w))
		}
	}
}

// checkPageCache checks which of the files pull (with flags) wrote into out
// are in the page cache: the scaler always; the weights unless --direct.
func checkPageCache(t *testing.T, flags []string, out string) {
	t.Helper()
	if writebacktest.InPageCache(t, out) {
		return
	}
	resident, pages := writebacktest.ResidentPages(t, filepath.Join(out, "weights.safetensors"))
	scalerResident, scalerPages := writebacktest.ResidentPages(t, filepath.Join(out, "scaler.json"))
	if flags != nil && (resident > 1 || scalerResident != scalerPages) {
		t.Errorf("pull --direct: %d of the weights' %d pages and %d of the scaler's %d are in the page cache; want none but the tail of the weights, all of the scaler", resident, pages, scalerResident, scalerPages)
	}
	if flags == nil && resident != pages {
		t.Errorf("pull: %d of the weights' %d pages are in the page cache, want all", resident, pages)
	}
}
