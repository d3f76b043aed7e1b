package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
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
		cfg, err := parseConfig(c.args, func(k string) string {
			if k == "REGISTRY_UPLOAD_TTL" {
				return c.env
			}
			return ""
		}, io.Discard)
		if (err != nil) != c.err || (!c.err && cfg.uploadTTL != c.want) {
			t.Errorf("env %q args %q: ttl %s, err %v; want %s, error %v", c.env, c.args, cfg.uploadTTL, err, c.want, c.err)
		}
	}
}

// TestOpenDriverRefuses: unknown schemes and unreachable S3 stop start-up
// with a message naming the problem.
func TestOpenDriverRefuses(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cases := map[string]string{
		"ftp://x": "want file://DIR or s3://",
		"file://": "want file://DIR or s3://",
		"s3://b/p?endpoint=http://127.0.0.1:1&region=us-east-1": "connection refused",
	}
	for url, want := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := openDriver(ctx, url)
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("openDriver(%q) = %v, want an error mentioning %q", url, err, want)
		}
	}
}
