package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// result is one regctl invocation's outcome.
type result struct {
	code           int
	stdout, stderr string
}

// regctl runs one invocation in-process, with env as its whole environment
// and stdin as its standard input.
func regctl(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	g := newGlobalOptions(strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] }, false)
	code := run(context.Background(), args, g)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// must fails the test unless the invocation exited with want.
func (r result) must(t *testing.T, want int, what string) result {
	t.Helper()
	if r.code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, want, r.stdout, r.stderr)
	}
	return r
}

// line returns stdout's only line.
func (r result) line() string { return strings.TrimSpace(r.stdout) }
