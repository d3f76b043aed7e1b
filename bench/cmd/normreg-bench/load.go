package main

import (
	"context"
	"os"
	"path/filepath"
)

// loadGroup measures what regctl pull --direct trades: for each size, a
// pull from normreg-fs and then one read of the pulled weights (the first
// model load), by default (through the page cache) and with --direct,
// repeat times (medians).
func (b *bench) loadGroup(ctx context.Context, sizes []int64, repeat int) error {
	for _, size := range sizes {
		if err := b.loadSize(ctx, size, repeat); err != nil {
			return err
		}
	}
	return nil
}

// loadSize is loadGroup for one weights size.
func (b *bench) loadSize(ctx context.Context, size int64, repeat int) error {
	files, remove, err := b.scratchBundle(size, uint64(size))
	defer remove()
	if err != nil {
		return err
	}
	srv, ref, err := b.pushedTo(ctx, b.startNormregFS, files, "bench/load")
	if err != nil {
		return err
	}
	defer srv.stop()
	g := "load " + sizeLabel(size)
	key := "load/" + sizeLabel(size) + "/"
	out := filepath.Join(b.work, "pulled")
	regctl := b.clients()[0]
	for range repeat {
		for _, mode := range []struct {
			key, name string
			flags     []string
		}{{"default", "pull (through the page cache, the default)", nil}, {"direct", "pull --direct", []string{"--direct"}}} {
			if err := b.settle(size); err != nil {
				return err
			}
			pull, err := runTimed(ctx, "", nil, append(regctl.pull(ref, out), mode.flags...)...)
			if err != nil {
				return err
			}
			read, err := runTimed(ctx, "", nil, "sh", "-c", `cat "$0" >/dev/null`, filepath.Join(out, "weights.safetensors"))
			os.RemoveAll(out)
			if err != nil {
				return err
			}
			base := "" // --direct is compared with the default
			if mode.key == "direct" {
				base = key + "default/"
			}
			for _, r := range []struct {
				what, name string
				seconds    float64
			}{{"pull", mode.name, pull.seconds}, {"read", mode.name + ", then the first read of the weights", read.seconds}, {"both", mode.name + " + that read", pull.seconds + read.seconds}} {
				row := Row{Key: key + mode.key + "/" + r.what, Group: g, Name: r.name, Value: r.seconds, Unit: "s", MBps: mbps(size, r.seconds)}
				if base != "" {
					row.Bases = []string{base + r.what}
				}
				b.rep.add(row)
			}
		}
	}
	return nil
}
