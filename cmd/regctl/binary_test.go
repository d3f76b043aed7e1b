package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
)

// TestBinaryExitStatus builds the regctl binary and runs it as a deploy
// script does, checking the process exit status and the streams.
func TestBinaryExitStatus(t *testing.T) {
	bin := buildRegctl(t)
	host, _ := registrytest.Normreg(t)
	features := filepath.Join(t.TempDir(), "features")
	os.WriteFile(features, []byte("age,income,tenure_months,balance,num_products,credit_score\n"), 0o644)
	sh := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"REGCTL_REGISTRY=" + host, "HOME=" + t.TempDir()}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	common := []string{"--mode", "eval", "--features", features, "--input-tensor", "net.0.weight", "--batch-size", "32"}

	code, out, errText := sh(append([]string{"push", "bin/model:v1", "--weights", fixture("scaler-refit", "weights.safetensors"),
		"--scaler", fixture("scaler-refit", "scaler.json")}, common...)...)
	if code != 3 || out != "" || !strings.Contains(errText, "refuse scaler-mismatch:") {
		t.Fatalf("refused push: exit %d, stdout %q, stderr %q; want 3, nothing, scaler-mismatch", code, out, errText)
	}
	code, out, errText = sh(append([]string{"push", "bin/model:v1", "--weights", fixture("mlp", "weights.safetensors"),
		"--scaler", fixture("mlp", "scaler.json")}, common...)...)
	if code != 0 || !strings.HasPrefix(out, "sha256:") || strings.Count(out, "\n") != 1 {
		t.Fatalf("push: exit %d, stdout %q, stderr %q; want 0 and one digest line", code, out, errText)
	}
	if code, _, errText = sh("resolve", "bin/model:nope"); code != 1 || strings.Count(errText, "\n") != 1 {
		t.Fatalf("resolve of a missing tag: exit %d, stderr %q; want 1 and one line", code, errText)
	}
}

// buildRegctl builds the regctl binary into a temp dir and returns its path.
func buildRegctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "regctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
