package main

import (
	"bytes"
	"io"
	"os"
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

// TestProgressKeepsWriteTo checks that a progress bar over a reader that
// writes itself (a verified download) passes its buffers on whole and
// still counts to 100%.
func TestProgressKeepsWriteTo(t *testing.T) {
	desc := artifact.Descriptor{Size: progressMin + 5, Annotations: map[string]string{manifest.AnnotationTitle: "w"}}
	data := bytes.Repeat([]byte{7}, int(desc.Size))
	var stderr bytes.Buffer
	g := newGlobalOptions(nil, io.Discard, &stderr, nil, true)
	var dst writeSizes
	n, err := io.Copy(&dst, g.progress("fetch", desc, bytes.NewReader(data)))
	if err != nil || n != desc.Size || dst.total != desc.Size {
		t.Fatalf("copied %d (%d written), %v; want %d", n, dst.total, err, desc.Size)
	}
	if dst.writes != 1 {
		t.Errorf("%d writes, want 1: the bar hid bytes.Reader's WriteTo", dst.writes)
	}
	if want := "fetch w  64/64 MiB (100%)\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr %q, want it to end with %q", stderr.String(), want)
	}
}

// writeSizes counts the writes it gets and their bytes.
type writeSizes struct{ writes, total int64 }

func (w *writeSizes) Write(p []byte) (int, error) {
	w.writes++
	w.total += int64(len(p))
	return len(p), nil
}

// TestDevNullIsNoTerminal: /dev/null is a character device but no terminal,
// so `regctl pull ... 2>/dev/null` draws no progress bar; a pipe is none either.
func TestDevNullIsNoTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(null) || isTerminal(w) {
		t.Fatalf("isTerminal(/dev/null) = %v, isTerminal(pipe) = %v; want false, false", isTerminal(null), isTerminal(w))
	}
}
