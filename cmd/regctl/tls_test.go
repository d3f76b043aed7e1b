package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/api/client/registrytest"
)

// tlsToken is the secret of the token "ci", which may push and pull team/*.
const tlsToken = "ci-secret-7f3a"

// normregTLS starts normreg over HTTPS with one token, "ci" (push on
// team/*), and returns its host, the certificate to trust and its log.
func normregTLS(t *testing.T) (host, caFile string, log fmt.Stringer) {
	t.Helper()
	hash, err := api.HashSecret(tlsToken)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := api.NewAuth(api.AuthFile{Tokens: []api.TokenEntry{{Name: "ci", Hash: hash,
		Scopes: []api.Scope{{Repository: "team/*", Actions: []api.Action{api.ActionPush}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return registrytest.NormregTLS(t, auth)
}

// TestRegctlTLSWithToken: regctl with --ca-file (or REGCTL_CA_FILE) and a
// token pushes, resolves and pulls over HTTPS (the server speaks nothing
// else); a wrong token gets 401 and leaves the tag where it was; the log
// holds no secret.
func TestRegctlTLSWithToken(t *testing.T) {
	host, ca, log := normregTLS(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "HOME": t.TempDir()}
	regctl(t, env, tlsToken+"\n", "login", "--ca-file", ca, host).must(t, exitOK, "login")
	c := readCase(t, "mlp")
	d := regctl(t, env, "", append(pushArgs(t, "mlp", c, "team/churn:v1"), "--ca-file", ca)...).must(t, exitOK, "push with the stored token").line()

	env["REGCTL_CA_FILE"] = ca
	regctl(t, env, "", "pull", "team/churn:v1", "-o", filepath.Join(t.TempDir(), "out")).must(t, exitOK, "pull")

	env["REGCTL_TOKEN"] = "ci-secret-wrong"
	r := regctl(t, env, "", append(pushArgs(t, "mlp", c, "team/churn:v1"), "--label", "attempt=2")...).must(t, exitError, "push with a wrong token")
	if !strings.Contains(r.stderr, "401") && !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Errorf("push with a wrong token: stderr %q names neither 401 nor UNAUTHORIZED", r.stderr)
	}
	if !strings.Contains(r.stderr, "refused the token") {
		t.Errorf("push with a wrong token: stderr %q does not say the token was refused", r.stderr)
	}
	env["REGCTL_TOKEN"] = tlsToken
	if got := regctl(t, env, "", "resolve", "team/churn:v1").must(t, exitOK, "resolve").line(); got != d {
		t.Fatalf("after the refused push team/churn:v1 is %s, want %s", got, d)
	}
	// Outside its scope the token gets 403 saying what it may not do (a
	// HEAD's answer has no body to say it in: then regctl guesses).
	r = regctl(t, env, "", "tags", "prod/churn").must(t, exitError, "tags outside the token's scope")
	if !strings.Contains(r.stderr, `token \"ci\" has no pull access to prod/churn`) || strings.Contains(r.stderr, "or the tag is immutable") {
		t.Errorf("tags outside the scope: stderr %q; want the 403's reason, without the generic guess", r.stderr)
	}
	r = regctl(t, env, "", pushArgs(t, "mlp", c, "prod/churn:v1")...).must(t, exitError, "push outside the token's scope")
	if !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "lack pull access to prod/churn") || !strings.Contains(r.stderr, "asking whether prod/churn holds config.json") {
		t.Errorf("push outside the scope: stderr %q; want the 403, the guess naming the repository, and what was asked", r.stderr)
	}
	// Plain HTTP to the HTTPS port: the 400 Go's server answers is explained.
	delete(env, "REGCTL_CA_FILE")
	r = regctl(t, env, "", "resolve", "team/churn:v1").must(t, exitError, "resolve without --ca-file")
	if !strings.Contains(r.stderr, "HTTP request to an HTTPS server") || !strings.Contains(r.stderr, "--ca-file") {
		t.Errorf("resolve over plain HTTP: stderr %q; want the server's answer and the --ca-file hint", r.stderr)
	}
	if strings.Contains(log.String(), "ci-secret") {
		t.Fatal("the registry log holds a secret")
	}
}

// TestOrasTLSWithToken: oras with --ca-file and the token as password
// pushes and pulls over HTTPS; with a wrong password the push fails and
// the tag keeps its manifest.
func TestOrasTLSWithToken(t *testing.T) {
	oras := registrytest.Tool(t, "oras")
	host, ca, _ := normregTLS(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("first"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("second"), 0o644)
	ref := host + "/team/files:v1"
	run := func(args ...string) (string, error) {
		cmd := exec.Command(oras, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	login := []string{"--ca-file", ca, "-u", "anyone", "-p", tlsToken}
	if out, err := run(append([]string{"push", ref, "a.txt:text/plain"}, login...)...); err != nil {
		t.Fatalf("oras push: %v\n%s", err, out)
	}
	before, err := run(append([]string{"resolve", ref}, login...)...)
	if err != nil {
		t.Fatalf("oras resolve: %v\n%s", err, before)
	}
	if out, err := run(append([]string{"pull", ref, "-o", "pulled"}, login...)...); err != nil {
		t.Fatalf("oras pull: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "pulled", "a.txt")); string(b) != "first" {
		t.Fatalf("oras pulled %q, want %q", b, "first")
	}
	out, err := run("push", ref, "b.txt:text/plain", "--ca-file", ca, "-u", "anyone", "-p", "ci-secret-wrong")
	if err == nil || !strings.Contains(out, "401") {
		t.Fatalf("oras push with a wrong password: err %v, want a 401\n%s", err, out)
	}
	if after, _ := run(append([]string{"resolve", ref}, login...)...); after != before {
		t.Fatalf("after the refused push %s resolves to %s, want %s", ref, after, before)
	}
}
