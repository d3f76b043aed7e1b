// Command storage-rss measures the peak memory of putting a large generated
// blob through Blobs.Put and reading it back, verified, through Blobs.Open,
// on the fs or the s3 driver. The blob is generated, never held: memory
// must not grow with its size.
//
//	storage-rss -driver fs [-dir DIR] [-size BYTES]
//	storage-rss -driver s3 -url s3://BUCKET/PREFIX?endpoint=URL [-size BYTES]
//
// It prints the size, the throughput of each direction and the peak RSS
// (VmHWM of /proc/self/status).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
	"github.com/normreg/normreg/storage/s3"
)

func main() {
	driver := flag.String("driver", "fs", "fs or s3")
	dir := flag.String("dir", "", "fs: root directory (default: a temporary one, removed after)")
	url := flag.String("url", "", "s3: s3://BUCKET/PREFIX?endpoint=URL&region=R")
	size := flag.Int64("size", 2<<30, "blob size in bytes")
	flag.Parse()
	if err := run(context.Background(), *driver, *dir, *url, *size); err != nil {
		fmt.Fprintln(os.Stderr, "storage-rss:", err)
		os.Exit(1)
	}
}

// run puts and reads back one generated blob and prints the figures.
func run(ctx context.Context, driver, dir, url string, size int64) error {
	d, cleanup, err := open(ctx, driver, dir, url)
	if err != nil {
		return err
	}
	defer cleanup()
	var seed [32]byte // fresh content each run, so Put really writes
	rand.Read(seed[:])
	digest, err := digestOf(newStream(seed, size))
	if err != nil {
		return err
	}
	blobs := storage.New(d).Blobs
	start := time.Now()
	if _, err := blobs.Put(ctx, "bench/rss", digest, size, newStream(seed, size)); err != nil {
		return err
	}
	up := time.Since(start)
	start = time.Now()
	if err := readBack(ctx, blobs, digest, size); err != nil {
		return err
	}
	down := time.Since(start)
	hwm, err := peakRSS()
	if err != nil {
		return err
	}
	fmt.Printf("driver=%s size=%d MiB put=%.0f MB/s get=%.0f MB/s peak_rss=%d MiB\n",
		driver, size>>20, mbps(size, up), mbps(size, down), hwm>>10)
	return nil
}

// open builds the driver and a cleanup that removes what the run created.
func open(ctx context.Context, driver, dir, url string) (storage.Driver, func(), error) {
	switch driver {
	case "fs":
		cleanup := func() {}
		if dir == "" {
			tmp, err := os.MkdirTemp("", "storage-rss-")
			if err != nil {
				return nil, nil, err
			}
			dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
		}
		d, err := fs.New(dir)
		return d, cleanup, err
	case "s3":
		cfg, err := s3.ParseURL(url)
		if err != nil {
			return nil, nil, err
		}
		d, err := s3.New(ctx, cfg)
		return d, func() {}, err
	}
	return nil, nil, fmt.Errorf("-driver %q: want fs or s3", driver)
}

// newStream returns size reproducible pseudo-random bytes.
func newStream(seed [32]byte, size int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8(seed), size)
}

// digestOf returns the sha256 digest of everything r yields.
func digestOf(r io.Reader) (artifact.Digest, error) {
	h := artifact.SHA256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return artifact.FromHash(artifact.SHA256, h), nil
}

// readBack reads the blob through a verifying reader.
func readBack(ctx context.Context, blobs *storage.Blobs, digest artifact.Digest, size int64) error {
	rc, _, err := blobs.Open(ctx, "bench/rss", digest, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, artifact.NewVerifyReader(rc, digest, size))
	return err
}

// mbps is a throughput in decimal megabytes per second.
func mbps(n int64, d time.Duration) float64 {
	return float64(n) / 1e6 / d.Seconds()
}

// peakRSS returns VmHWM from /proc/self/status, in KiB.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, errors.Join(errors.New("no VmHWM in /proc/self/status"), sc.Err())
}
