package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/storage"
)

// TestParseConfig: defaults, then REGISTRY_* environment, then flags.
func TestParseConfig(t *testing.T) {
	env := map[string]string{"REGISTRY_LISTEN": "127.0.0.1:6000", "REGISTRY_UPLOAD_TTL": "2h"}
	cfg, err := parseConfig([]string{"--upload-ttl", "90m"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{listen: "127.0.0.1:6000", storage: "file://./registry-data", uploadTTL: 90 * time.Minute}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config %+v, want %+v", cfg, want)
	}
	for _, args := range [][]string{{"--upload-ttl", "0s"}, {"extra"}, {"--nope"}} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
}

// TestUploadTTLFromEnv: the environment sets the TTL when the flag is
// absent; the flag wins even over a malformed environment value, which
// otherwise stops start-up.
// TestExposureWarnings: beyond loopback, the start-up log warns of a
// registry without an auth file and of one without TLS.
func TestExposureWarnings(t *testing.T) {
	for _, c := range []struct {
		addr      string
		auth, tls bool
		want      []string
	}{
		{"127.0.0.1:5000", false, false, nil},
		{"[::1]:5000", false, false, nil},
		{"0.0.0.0:5000", false, false, []string{"without --auth-file", "without --tls-cert"}},
		{"10.1.2.3:5000", true, false, []string{"without --tls-cert"}},
		{"[::]:5000", true, true, nil},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		got := exposureWarnings(addr, c.auth, c.tls)
		ok := len(got) == len(c.want)
		for i := range got {
			ok = ok && strings.Contains(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s auth %v tls %v: %q, want warnings saying %q", c.addr, c.auth, c.tls, got, c.want)
		}
	}
}

func TestUploadTTLFromEnv(t *testing.T) {
	cases := []struct {
		env  string
		args []string
		want time.Duration
		err  bool
	}{
		{"2h", nil, 2 * time.Hour, false},
		{"", nil, 24 * time.Hour, false},
		{"soon", []string{"--upload-ttl", "5m"}, 5 * time.Minute, false},
		{"soon", nil, 0, true},
	}
	for _, c := range cases {
		cfg, err := parseWithEnv(c.args, "REGISTRY_UPLOAD_TTL", c.env)
		if (err != nil) != c.err || (!c.err && cfg.uploadTTL != c.want) {
			t.Errorf("env %q args %q: ttl %s, err %v; want %s, error %v", c.env, c.args, cfg.uploadTTL, err, c.want, c.err)
		}
		if c.err && !strings.Contains(fmt.Sprint(err), `REGISTRY_UPLOAD_TTL="soon": want a duration such as 30m or 24h`) {
			t.Errorf("env %q: error %v; want it to name the variable, the value and what it takes", c.env, err)
		}
	}
}

// TestOpenDriverRefuses: unknown schemes and unreachable S3 stop start-up
// with a message naming the problem.
func TestOpenDriverRefuses(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cases := map[string]string{
		"ftp://x":                         "want file://DIR or s3://",
		"file://":                         "want file://DIR or s3://",
		"file:///tmp/rd?single-put-max=1": "file:// takes a directory and no parameters",
		"s3://b/p?single-put-maximum=1":   `unknown parameter "single-put-maximum"`,
		"s3://b/p?endpoint=http://127.0.0.1:1&region=us-east-1": "connection refused",
	}
	for url, want := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := openDriver(ctx, url, false)
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("openDriver(%q) = %v, want an error mentioning %q", url, err, want)
		}
	}
}

// TestLogLevel: --log-level and REGISTRY_LOG_LEVEL take debug, info, warn
// and error (default info); the flag wins over the environment, even over a
// malformed value; a malformed value alone stops start-up.
func TestLogLevel(t *testing.T) {
	cases := []struct {
		env  string
		args []string
		want slog.Level
		err  bool
	}{
		{"", nil, slog.LevelInfo, false},
		{"error", nil, slog.LevelError, false},
		{"DEBUG", nil, slog.LevelDebug, false},
		{"error", []string{"--log-level", "warn"}, slog.LevelWarn, false},
		{"loud", []string{"--log-level", "debug"}, slog.LevelDebug, false},
		{"loud", nil, 0, true},
		{"", []string{"--log-level", "loud"}, 0, true},
	}
	for _, c := range cases {
		cfg, err := parseWithEnv(c.args, "REGISTRY_LOG_LEVEL", c.env)
		if (err != nil) != c.err || (!c.err && cfg.logLevel != c.want) {
			t.Errorf("env %q args %q: level %s, err %v; want %s, error %v", c.env, c.args, cfg.logLevel, err, c.want, c.err)
		}
	}
}

// parseWithEnv is parseConfig of args with the one environment variable name set to value.
func parseWithEnv(args []string, name, value string) (config, error) {
	return parseConfig(args, func(k string) string {
		if k == name {
			return value
		}
		return ""
	}, io.Discard)
}

// TestS3Redirect: --s3-redirect and REGISTRY_S3_REDIRECT=1 turn redirects
// on (the flag wins), and start-up refuses them on storage other than S3.
func TestS3Redirect(t *testing.T) {
	const s3URL = "s3://b/p?endpoint=http://127.0.0.1:9070"
	cases := []struct {
		env  map[string]string
		args []string
		want bool
		err  string
	}{
		{nil, []string{"--storage", s3URL}, false, ""},
		{nil, []string{"--storage", s3URL, "--s3-redirect"}, true, ""},
		{map[string]string{"REGISTRY_S3_REDIRECT": "1", "REGISTRY_STORAGE": s3URL}, nil, true, ""},
		{map[string]string{"REGISTRY_S3_REDIRECT": "1"}, []string{"--storage", s3URL, "--s3-redirect=false"}, false, ""},
		{map[string]string{"REGISTRY_S3_REDIRECT": "yes please"}, []string{"--storage", s3URL}, false, `REGISTRY_S3_REDIRECT="yes please": want 1 or 0`},
		{nil, []string{"--s3-redirect"}, false, "--s3-redirect needs s3:// storage"},
		{map[string]string{"REGISTRY_S3_REDIRECT": "1"}, []string{"--storage", "file:///tmp/x"}, false, "--s3-redirect needs s3:// storage"},
	}
	for _, c := range cases {
		cfg, err := parseConfig(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("env %v args %q: err %v, want one mentioning %q", c.env, c.args, err, c.err)
			}
			continue
		}
		if err != nil || cfg.s3Redirect != c.want {
			t.Errorf("env %v args %q: s3Redirect %v, err %v; want %v", c.env, c.args, cfg.s3Redirect, err, c.want)
		}
	}
}

// TestFlagErrorsPrintedOnce: a bad flag is reported by the flag package with
// the usage (which names hash-token), and parseConfig's error says so, so
// main exits 2 without printing it a second time.
func TestFlagErrorsPrintedOnce(t *testing.T) {
	var usage strings.Builder
	_, err := parseConfig([]string{"--log-level", "bogus"}, func(string) string { return "" }, &usage)
	var fe flagError
	if !errors.As(err, &fe) {
		t.Fatalf("parseConfig error %v (%T), want a flagError", err, err)
	}
	if out := usage.String(); strings.Count(out, "invalid value") != 1 || !strings.Contains(out, "registry hash-token") {
		t.Errorf("usage output %q: want the error once and the hash-token usage", out)
	}
	if _, err := parseConfig([]string{"--upload-ttl", "1h"}, func(k string) string { return map[string]string{"REGISTRY_LOG_LEVEL": "loud"}[k] }, io.Discard); err == nil || errors.As(err, &fe) {
		t.Errorf("a bad REGISTRY_LOG_LEVEL: %v; want an error the flag package did not print", err)
	}
}

// TestCleanUpSweeps runs one clean-up pass on a directory where a registry
// killed mid-Put left a temp file two hours ago: the pass removes it and
// logs how many it swept; a second pass finds nothing and logs nothing.
func TestCleanUpSweeps(t *testing.T) {
	root := t.TempDir()
	driver, err := openDriver(context.Background(), "file://"+root, false)
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(root, ".tmp", "put-123")
	if err := os.WriteFile(left, []byte("half a blob"), 0o644); err != nil {
		t.Fatal(err)
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(left, twoHoursAgo, twoHoursAgo); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	cleanUp(context.Background(), storage.New(driver).Uploads, driver, time.Hour, log)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the temp file is still there: %v", err)
	}
	if !strings.Contains(logged.String(), `msg="swept unfinished writes" count=1`) {
		t.Errorf("log %q lacks the sweep", logged.String())
	}
	logged.Reset()
	cleanUp(context.Background(), storage.New(driver).Uploads, driver, time.Hour, log)
	if logged.Len() != 0 {
		t.Errorf("a pass with nothing to remove logged %q", logged.String())
	}
}

// TestShutdownCutsOffSlowRequests: a request still running when the grace
// period ends is cut off, and the error says so (it was "context deadline
// exceeded"); with no request in flight shutdown ends cleanly.
func TestShutdownCutsOffSlowRequests(t *testing.T) {
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // a download slower than the grace period
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	go http.Get("http://" + ln.Addr().String())
	<-started
	if err := shutdown(srv, 50*time.Millisecond); err == nil || err.Error() != "shutting down: requests still running after 50ms were cut off" {
		t.Errorf("shutdown with a request in flight: %v", err)
	}
	idle := &http.Server{}
	if err := shutdown(idle, time.Second); err != nil {
		t.Errorf("shutdown with no request: %v", err)
	}
}
