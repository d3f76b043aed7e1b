package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
)

// verifyGroup times regctl verify and regctl pull against bundle size on normreg (fs).
func (b *bench) verifyGroup(ctx context.Context, sizes []int64) error {
	for _, size := range sizes {
		if err := b.verifyOne(ctx, size); err != nil {
			return err
		}
	}
	return nil
}

// verifyOne pushes a bundle of size to a fresh normreg and times verify and pull.
func (b *bench) verifyOne(ctx context.Context, size int64) error {
	f, remove, err := b.scratchBundle(size, uint64(size)+7)
	defer remove()
	if err != nil {
		return err
	}
	srv, ref, err := b.pushedTo(ctx, b.startNormregFS, f, "bench/model")
	if err != nil {
		return err
	}
	defer srv.stop()
	label := sizeLabel(size)
	if err := b.measure(ctx, srv, f, step{key: "verify/" + label + "/verify", group: "verify", name: "regctl verify " + label, argv: []string{b.regctl, "verify", ref}}); err != nil {
		return err
	}
	out := filepath.Join(b.work, "pulled")
	return b.measure(ctx, srv, f, step{key: "verify/" + label + "/pull", group: "verify", name: "regctl pull " + label, argv: b.clients()[0].pull(ref, out), out: out})
}

// dedupGroup pushes a bundle, then a second version changing only the
// scaler, then the first to another repository, through a proxy that
// counts the request bytes regctl sends.
func (b *bench) dedupGroup(ctx context.Context) error {
	f, remove, err := b.scratchBundle(256<<20, 3)
	defer remove()
	if err != nil {
		return err
	}
	srv, err := b.startNormregFS(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	p, err := startCountingProxy(srv.addr)
	if err != nil {
		return err
	}
	defer p.close()
	ref := p.addr + "/bench/model:"
	cache := b.coldCache()
	for _, v := range []struct {
		tag, what string
		env, argv []string
	}{
		{"v1", "first version (all layers)", cache, b.clients()[0].push(ref+"v1", f)},
		{"v2", "second version, only the scaler changed", cache, append([]string{b.regctl, "push", ref + "v2"}, f.pushArgs(f.scaler2)...)},
		{"other-repo", "first version pushed to another repository (the weights mounted)", cache, b.clients()[0].push(p.addr+"/bench/other:v1", f)},
		{"v1-uncached", "first version again, from a machine without the digest cache", b.coldCache(), b.clients()[0].push(ref+"v1b", f)},
	} {
		p.sent.Store(0)
		if _, err := runTimed(ctx, "", v.env, v.argv...); err != nil {
			return err
		}
		b.rep.add(Row{Key: "dedup/" + v.tag, Group: "dedup", Name: fmt.Sprintf("bytes sent, %s (weights %d B)", v.what, f.size),
			Value: float64(p.sent.Load()), Unit: "bytes", Bases: dedupBase(v.tag)})
	}
	return nil
}

// dedupBase compares the second version's bytes with the first's.
func dedupBase(tag string) []string {
	if tag == "v1" {
		return nil
	}
	return []string{"dedup/v1"}
}

// countingProxy forwards to a registry and counts the request body bytes.
type countingProxy struct {
	addr string
	sent atomic.Int64
	srv  *http.Server
}

// startCountingProxy listens on a loopback port and forwards to target (host:port).
func startCountingProxy(target string) (*countingProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{addr: l.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &p.sent}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(l)
	return p, nil
}

// close stops the proxy.
func (p *countingProxy) close() { p.srv.Close() }

// countingBody adds what is read from it to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

// Read implements io.Reader.
func (c countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
