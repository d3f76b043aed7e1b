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
	p.advance(n, err != nil)
	return n, err
}

// WriteTo implements io.WriterTo, which io.Copy prefers: where r writes
// itself (a verified download hands over whole buffers), the bytes are
// counted on their way to w instead of being copied through Read.
func (p *progressReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := p.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{p})
	}
	n, err := wt.WriteTo(progressWriter{w, p})
	p.advance(0, true)
	return n, err
}

// progressWriter advances p by what it writes to w.
type progressWriter struct {
	w io.Writer
	p *progressReader
}

// Write implements io.Writer.
func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.advance(n, false)
	return n, err
}

// advance counts n more bytes and redraws the bar at most every 200 ms,
// and at the end with a newline.
func (p *progressReader) advance(n int, end bool) {
	p.done += int64(n)
	if end || time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r%s  %d/%d MiB (%d%%)", p.label, p.done>>20, p.size>>20, 100*p.done/p.size)
		if end {
			fmt.Fprintln(p.w)
		}
	}
}
