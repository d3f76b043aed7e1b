package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client/registrytest"
)

// TestRegctlPullThroughS3Redirect runs the registry as configured from the
// command line on S3 with --s3-redirect and an --auth-file, and the real
// regctl binary with the token: push a bundle, then pull it with every
// blob GET redirected to S3; the pulled weights are the pushed ones.
func TestRegctlPullThroughS3Redirect(t *testing.T) {
	endpoint, bucket := os.Getenv("NORMREG_TEST_S3_ENDPOINT"), os.Getenv("NORMREG_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		registrytest.Unavailable(t, `no S3 server: run eval "$(scripts/s3.sh start)"`)
	}
	dir := t.TempDir()
	regctl := filepath.Join(dir, "regctl")
	if out, err := exec.Command("go", "build", "-o", regctl, filepath.Join(registrytest.ModuleRoot(), "cmd", "regctl")).CombinedOutput(); err != nil {
		t.Fatalf("building regctl: %v\n%s", err, out)
	}
	addr := startRedirecting(t, dir, fmt.Sprintf("s3://%s/registry-test-%d?endpoint=%s&region=us-east-1", bucket, time.Now().UnixNano(), endpoint))
	fixture := filepath.Join(registrytest.ModuleRoot(), "testdata", "interop", "mlp")
	ref := addr + "/team/mlp:v1"
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(regctl, args...)
		cmd.Dir = fixture
		cmd.Env = append(os.Environ(), "REGCTL_TOKEN=s3cret-token", "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("regctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("push", ref, "--weights", "weights.safetensors", "--scaler", "scaler.json", "--mode", "eval")
	run("pull", ref, "-o", filepath.Join(dir, "pulled"))
	want, err := os.ReadFile(filepath.Join(fixture, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "pulled", "weights.safetensors")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("pulled weights: %d bytes (%v), want the pushed %d", len(got), err, len(want))
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(metrics, []byte(`route="/v2/{name}/blobs/{digest}",method="GET",status="307"}`)) {
		t.Fatalf("the pull's blob GETs were not redirected:\n%s", metrics)
	}
}

// startRedirecting serves a registry on storage with --s3-redirect and an
// auth file in dir granting token s3cret-token everything, until the test
// ends, and returns its address once it answers.
func startRedirecting(t *testing.T, dir, storage string) string {
	t.Helper()
	addr := registrytest.FreeAddr(t)
	cfg, err := parseConfig([]string{"--listen", addr, "--storage", storage, "--auth-file", writeAuthFile(t, dir, "admin"), "--s3-redirect"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	serveUntilCleanup(t, cfg)
	if got := pingStatus(t, http.DefaultClient, "http://"+addr+"/v2/", "s3cret-token"); got != http.StatusOK {
		t.Fatalf("ping: %d", got)
	}
	return addr
}
