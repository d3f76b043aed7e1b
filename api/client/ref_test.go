package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"team/model", Ref{Host: "def:5000", Repo: "team/model"}},
		{"model:v1", Ref{Host: "def:5000", Repo: "model", Tag: "v1"}},
		{"localhost/model", Ref{Host: "localhost", Repo: "model"}},
		{"localhost:5000/team/model:v1.2", Ref{Host: "localhost:5000", Repo: "team/model", Tag: "v1.2"}},
		{"reg.example.com/model@sha256:" + hexA, Ref{Host: "reg.example.com", Repo: "model", Digest: "sha256:" + hexA}},
		{"[::1]:5000/m:t", Ref{Host: "[::1]:5000", Repo: "m", Tag: "t"}},
		{"127.0.0.1:80/a/b/c:t@sha256:" + hexA, Ref{Host: "127.0.0.1:80", Repo: "a/b/c", Tag: "t", Digest: "sha256:" + hexA}},
	} {
		got, err := ParseRef(tc.in, "def:5000")
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRefErrors(t *testing.T) {
	for _, tc := range []struct {
		in, host string
		want     error
	}{
		{"Team/Model", "h", artifact.ErrInvalidName},
		{"model:-bad", "h", artifact.ErrInvalidTag},
		{"model@sha256:abc", "h", artifact.ErrInvalidDigest},
		{"model@md5:" + hexA, "h", artifact.ErrUnsupportedAlgorithm},
		{"model", "", ErrInvalidRef},
		{"localhost:5000/", "h", artifact.ErrInvalidName},
	} {
		_, err := ParseRef(tc.in, tc.host)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q, %q) = %v; want %v", tc.in, tc.host, err, tc.want)
		}
	}
}

// TestParseRefHost: a host with a scheme or a path, from the REF or the
// default host ($REGCTL_REGISTRY), is refused with a message saying what a
// host is, not taken into a URL that fails to parse.
func TestParseRefHost(t *testing.T) {
	for _, tc := range []struct{ in, host, want string }{
		{"model", "http://reg:5000", `registry host "http://reg:5000" has a scheme: give host[:port] (reg:5000)`},
		{"model", "https://reg:5000/", "give host[:port] (reg:5000)"},
		{"model", "reg:5000/", `registry host "reg:5000/" is not host[:port]`},
		{"model", "reg istry", `registry host "reg istry" is not host[:port]`},
		{"http://reg:5000/model", "h", "a reference has no scheme"},
	} {
		_, err := ParseRef(tc.in, tc.host)
		if !errors.Is(err, ErrInvalidRef) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRef(%q, %q) = %v; want %q in it", tc.in, tc.host, err, tc.want)
		}
	}
}

func TestRefStringAndReference(t *testing.T) {
	r, err := ParseRef("localhost:5000/m", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Reference() != DefaultTag || r.String() != "localhost:5000/m" {
		t.Errorf("untagged: Reference %q String %q", r.Reference(), r.String())
	}
	p := r.WithDigest("sha256:" + hexA)
	if p.Reference() != "sha256:"+hexA || p.String() != "localhost:5000/m@sha256:"+hexA {
		t.Errorf("pinned: Reference %q String %q", p.Reference(), p.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:5000": true, "127.0.0.1": true, "127.8.9.1:80": true,
		"[::1]:5000": true, "::1": true, "10.0.0.1:5000": false, "registry.example.com": false,
		"localhost.example.com:443": false, "128.0.0.1": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestNewScheme(t *testing.T) {
	if s := New("reg.example.com", Options{}).base.Scheme; s != "https" {
		t.Errorf("remote host scheme %q, want https", s)
	}
	if s := New("reg.example.com", Options{PlainHTTP: true}).base.Scheme; s != "http" {
		t.Errorf("--plain-http scheme %q, want http", s)
	}
	if s := New("127.0.0.1:5000", Options{}).base.Scheme; s != "http" {
		t.Errorf("loopback scheme %q, want http", s)
	}
}
