package main

import (
	"fmt"
	"io"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// progressMin is the smallest blob that gets a progress bar.
const progressMin = 64 << 20

// progress wraps r, the content of desc, to draw a progress bar on stderr,
// only when stderr is a terminal and the blob is large.
func (g *globalOptions) progress(verb string, desc artifact.Descriptor, r io.Reader) io.Reader {
	if !g.stderrIsTTY || desc.Size < progressMin {
		return r
	}
	name := desc.Annotations[manifest.AnnotationTitle]
	if name == "" {
		name = desc.Digest.String()
	}
	return &progressReader{r: r, w: g.stderr, label: verb + " " + name, size: desc.Size}
}

// progressReader redraws "label  done/size MiB (p%)" at most every 200 ms.
type progressReader struct {
	r     io.Reader
	w     io.Writer
	label string
	size  int64
	done  int64
	last  time.Time
}

// Read implements io.Reader.
func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if end := err != nil; end || time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r%s  %d/%d MiB (%d%%)", p.label, p.done>>20, p.size>>20, 100*p.done/p.size)
		if end {
			fmt.Fprintln(p.w)
		}
	}
	return n, err
}
