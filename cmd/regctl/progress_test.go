package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// zeros yields zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestProgressOnlyForLargeBlobsOnATerminal(t *testing.T) {
	large := artifact.Descriptor{Size: progressMin, Annotations: map[string]string{manifest.AnnotationTitle: "weights.safetensors"}}
	small := artifact.Descriptor{Size: progressMin - 1}
	for _, tc := range []struct {
		tty  bool
		desc artifact.Descriptor
		want string
	}{
		{true, large, "push weights.safetensors  64/64 MiB (100%)\n"},
		{false, large, ""},
		{true, small, ""},
	} {
		var stderr bytes.Buffer
		g := newGlobalOptions(nil, io.Discard, &stderr, nil, tc.tty)
		n, err := io.Copy(io.Discard, g.progress("push", tc.desc, io.LimitReader(zeros{}, tc.desc.Size)))
		if err != nil || n != tc.desc.Size {
			t.Fatalf("progress changed the stream: %d bytes, %v", n, err)
		}
		if !strings.HasSuffix(stderr.String(), tc.want) || (tc.want == "") != (stderr.Len() == 0) {
			t.Errorf("tty %v, size %d: stderr %q, want it to end with %q", tc.tty, tc.desc.Size, stderr.String(), tc.want)
		}
	}
}
