package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
)

func TestUsageErrorsExit1(t *testing.T) {
	env := map[string]string{"REGCTL_REGISTRY": "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"resolve"}, "resolve takes 1 argument(s), got 0 (regctl resolve --help shows its usage)"},
		{[]string{"resolve", "Bad/Name"}, "invalid repository name"},
		{[]string{"resolve", "m:t", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"push", "m:t"}, "push needs --weights"},
		{[]string{"push", "m:t", "--weights", "x", "--label", "k=first", "--label", "k=second"}, `label "k" given twice (k=first and k=second)`},
		{[]string{"push", "m:t", "--weights", "x", "--label", "novalue"}, `label "novalue" is not key=value`},
		{[]string{"push", "m@sha256:" + strings.Repeat("a", 64), "--weights", "x"}, "push takes a tag, not a digest"},
		{[]string{"pull", "m:t"}, "pull needs -o DIR"},
		{[]string{"pull", "m:t", "-o", "no/such/dir/out"}, "the directory no/such/dir does not exist"},
		{[]string{"tag", "m:t", "bad!tag"}, "invalid tag"},
		{[]string{"tags", "m:t"}, "tags takes a repository, not a tag"},
		{[]string{"ls", "a", "b"}, "ls takes at most one argument"},
		{[]string{"help", "pull", "extra"}, `help takes at most one command, got ["pull" "extra"]`},
	} {
		r := regctl(t, env, "", tc.args...)
		if r.code != exitError || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("regctl %v: exit %d, stderr %q, stdout %q; want exit 1 and %q", tc.args, r.code, r.stderr, r.stdout, tc.want)
		}
		if n := strings.Count(r.stderr, "regctl: "); n != 1 {
			t.Errorf("regctl %v: error printed %d times, want once: %q", tc.args, n, r.stderr)
		}
	}
}

// TestHelpExits0 shows that asking for help is not an error: the usage
// goes to stdout and regctl exits 0; a command's help lists its flags.
func TestHelpExits0(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"regctl pull REF -o DIR", "regctl push REF --weights F", "regctl help COMMAND"}},
		{[]string{"--help"}, []string{"regctl verify REF"}},
		{[]string{"-h"}, []string{"regctl serve"}},
		{[]string{"pull", "--help"}, []string{"usage: regctl pull REF -o DIR", "\n  --direct\n", "\n  -o string\n"}},
		{[]string{"help", "pull"}, []string{"usage: regctl pull REF -o DIR", "\n  --direct\n"}},
		{[]string{"push", "m:t", "-h"}, []string{"usage: regctl push REF", "\n  --weights string\n", "\n  --input-axis int\n", "(default 1)\n"}},
	} {
		r := regctl(t, map[string]string{}, "", tc.args...)
		if r.code != exitOK || r.stderr != "" {
			t.Errorf("regctl %v: exit %d, stderr %q; want exit 0 and nothing on stderr", tc.args, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("regctl %v: stdout %q lacks %q", tc.args, r.stdout, w)
			}
		}
	}
}

func TestNoRegistryHost(t *testing.T) {
	r := regctl(t, map[string]string{}, "", "resolve", "team/model:v1")
	if r.code != exitError || !strings.Contains(r.stderr, "REGCTL_REGISTRY is unset") {
		t.Fatalf("exit %d, stderr %q; want exit 1 naming REGCTL_REGISTRY", r.code, r.stderr)
	}
}

// TestRegistryHostWithScheme: REGCTL_REGISTRY, or the HOST of ls and login,
// written as a URL is a usage error saying what a host is, not a URL parse
// error of the address regctl built from it.
func TestRegistryHostWithScheme(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
	}{
		{"http://127.0.0.1:1", []string{"resolve", "m:v1"}},
		{"https://127.0.0.1:1", []string{"ls"}},
		{"", []string{"ls", "http://127.0.0.1:1"}},
		{"", []string{"login", "https://127.0.0.1:1"}},
	} {
		r := regctl(t, map[string]string{"REGCTL_REGISTRY": tc.env}, "token\n", tc.args...)
		if r.code != exitError || !strings.Contains(r.stderr, `has a scheme: give host[:port] (127.0.0.1:1)`) {
			t.Errorf("REGCTL_REGISTRY=%q regctl %v: exit %d, stderr %q; want exit 1 saying to give host[:port]", tc.env, tc.args, r.code, r.stderr)
		}
	}
}

// TestPlainHTTPSetting: REGCTL_PLAIN_HTTP takes a boolean (true as well as
// 1; it was read as false, so HTTPS), anything else is a usage error, and
// plain HTTP with a CA file is a contradiction, not plain HTTP in silence.
func TestPlainHTTPSetting(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"REGCTL_PLAIN_HTTP": "yes"}, nil, `REGCTL_PLAIN_HTTP="yes": want 1 or 0 (or true, false)`},
		{map[string]string{"REGCTL_PLAIN_HTTP": "true"}, []string{"--ca-file", "ca.pem"}, "(or REGCTL_PLAIN_HTTP) and a CA file (--ca-file or REGCTL_CA_FILE ca.pem) contradict each other"},
		{map[string]string{"REGCTL_CA_FILE": "ca.pem"}, []string{"--plain-http"}, "contradict each other"},
	} {
		args := append([]string{"ls", "127.0.0.1:1"}, tc.args...)
		r := regctl(t, tc.env, "", args...)
		if r.code != exitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v regctl %v: exit %d, stderr %q; want exit 1 and %q", tc.env, args, r.code, r.stderr, tc.want)
		}
	}
}

func TestNetworkErrorExit1(t *testing.T) {
	host := registrytest.FreeAddr(t) // nothing listens there
	r := regctl(t, map[string]string{}, "", "resolve", host+"/m:v1")
	if r.code != exitError || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("exit %d, stderr %q; want exit 1, connection refused", r.code, r.stderr)
	}
}

func TestReadFeatureFile(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string][]string{
		"age\nincome\n\ntenure\n":   {"age", "income", "tenure"},
		"age, income,tenure\n":      {"age", "income", "tenure"},
		"age,\nincome,\r\ntenure\n": {"age", "income", "tenure"},
	} {
		p := filepath.Join(dir, "f")
		os.WriteFile(p, []byte(content), 0o644)
		got, err := readFeatureFile(p)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("readFeatureFile(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	os.WriteFile(filepath.Join(dir, "dup"), []byte("a\nb\na\n"), 0o644)
	if _, err := readFeatureFile(filepath.Join(dir, "dup")); err == nil {
		t.Error("a repeated feature name was accepted")
	}
}

func TestLoginStoresCredentialPrivately(t *testing.T) {
	host, _ := registrytest.Distribution(t)
	cfg := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": cfg}
	r := regctl(t, env, "s3cret\n", "login", host).must(t, exitOK, "login")
	path := filepath.Join(cfg, "normreg", "credentials.json")
	if r.line() != path {
		t.Fatalf("login printed %q, want the credentials path %s", r.line(), path)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v; want 0600", err, st.Mode())
	}
	creds, err := loadCredentials(func(k string) string { return env[k] })
	if err != nil || creds.Registries[host].Token != "s3cret" {
		t.Fatalf("stored credentials %+v, %v", creds, err)
	}
	if r := regctl(t, env, "", "login", host); r.code != exitError || !strings.Contains(r.stderr, "no token on stdin") {
		t.Fatalf("login without a token: exit %d, %q", r.code, r.stderr)
	}
}
