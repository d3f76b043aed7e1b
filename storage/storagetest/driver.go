package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/storage"
)

// runDriver checks the storage.Driver contract.
func runDriver(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	checks := []check[storage.Driver]{
		{"RoundTrip", testRoundTrip},
		{"OpenOffset", testOpenOffset},
		{"LargeObjects", testLargeObjects},
		{"FailingReader", testFailingReader},
		{"NotFound", testNotFound},
		{"TooLarge", testTooLarge},
		{"ListPagination", testListPagination},
		{"PutIf", testPutIf},
		{"PutIfConcurrent", testPutIfConcurrent},
		{"ContextCanceled", testContextCanceled},
		{"ConcurrentCanceledPuts", testConcurrentCanceledPuts},
	}
	if _, ok := newDriver(t).(storage.Mover); ok {
		checks = append(checks, check[storage.Driver]{"Move", testMove})
	}
	if _, ok := newDriver(t).(storage.FreshPutter); ok {
		checks = append(checks, check[storage.Driver]{"PutFresh", testPutFresh})
	}
	runTests(t, newDriver, checks)
}

func put(t *testing.T, d storage.Driver, key, data string) {
	t.Helper()
	if err := d.Put(context.Background(), key, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func readAll(t *testing.T, d storage.Driver, key string, offset int64) string {
	t.Helper()
	rc, err := d.Open(context.Background(), key, offset)
	if err != nil {
		t.Fatalf("Open %s@%d: %v", key, offset, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

func testRoundTrip(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	put(t, d, "a/b/c", "hello, world")
	if got := readAll(t, d, "a/b/c", 0); got != "hello, world" {
		t.Fatalf("Open read %q", got)
	}
	info, err := d.Stat(ctx, "a/b/c")
	if err != nil || info.Size != 12 || info.Version == "" || info.Key != "a/b/c" || info.Modified.IsZero() {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	data, version, err := d.Get(ctx, "a/b/c", 100)
	if err != nil || string(data) != "hello, world" || version != info.Version {
		t.Fatalf("Get = %q %q %v, want the Stat version %q", data, version, err, info.Version)
	}
	put(t, d, "a/b/c", "hello, again")
	again, err := d.Stat(ctx, "a/b/c")
	if err != nil || again.Version == info.Version {
		t.Fatalf("overwrite kept version %q (%v)", again.Version, err)
	}
	put(t, d, "a/empty", "")
	if got := readAll(t, d, "a/empty", 0); got != "" {
		t.Fatalf("empty object read %q", got)
	}
	if err := d.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "a/b/c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v", err)
	}
}

func testOpenOffset(t *testing.T, d storage.Driver) {
	put(t, d, "k", "0123456789")
	for _, tc := range []struct {
		offset int64
		want   string
	}{{0, "0123456789"}, {4, "456789"}, {9, "9"}, {10, ""}} {
		if got := readAll(t, d, "k", tc.offset); got != tc.want {
			t.Errorf("Open at %d read %q, want %q", tc.offset, got, tc.want)
		}
	}
}

// testLargeObjects round-trips streams around and beyond one part, of
// unknown and of known length, and reads them from an offset in their last
// part.
func testLargeObjects(t *testing.T, d storage.Driver) {
	for i, size := range []int64{PartSize / 2, PartSize, 2*PartSize + 12345, -(PartSize + 1), -(2*PartSize + 12345)} {
		declared := int64(-1)
		if size < 0 { // negative: the size is declared
			size, declared = -size, -size
		}
		key := fmt.Sprint("big/", size)
		if err := d.Put(context.Background(), key, newStream(byte(i), size), declared); err != nil {
			t.Fatalf("Put %d bytes (declared %d): %v", size, declared, err)
		}
		if info, err := d.Stat(context.Background(), key); err != nil || info.Size != size {
			t.Fatalf("Stat = %+v, %v; want size %d", info, err, size)
		}
		for _, offset := range []int64{0, size - PartSize/3} {
			rc, err := d.Open(context.Background(), key, offset)
			if err != nil {
				t.Fatal(err)
			}
			n, ok := matchesStream(t, rc, byte(i), size, offset)
			rc.Close()
			if !ok {
				t.Fatalf("%d-byte object read from %d: %d bytes with another hash", size, offset, n)
			}
		}
	}
}

func testFailingReader(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	put(t, d, "keep", "old")
	for _, n := range []int64{100, PartSize + 100, 2*PartSize + 100} {
		for _, key := range []string{"keep", "fresh"} {
			// Failing where the stream ends, of unknown or of declared length:
			// as a verifying reader does on a digest mismatch, and as a request
			// body does when the connection is cut off (io.ErrUnexpectedEOF,
			// which is not the stream's end).
			for _, boom := range []error{errors.New("client went away"), io.ErrUnexpectedEOF} {
				for _, declared := range []int64{-1, n} {
					err := d.Put(ctx, key, &failingReader{r: newStream(2, n), err: boom}, declared)
					if !errors.Is(err, boom) {
						t.Fatalf("Put %s failing after %d bytes with %q (declared %d) = %v, want the reader's error", key, n, boom, declared, err)
					}
				}
			}
		}
		if got := readAll(t, d, "keep", 0); got != "old" {
			t.Fatalf("failed Put changed the old value to %d bytes", len(got))
		}
		if _, err := d.Stat(ctx, "fresh"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("failed Put left an object: %v", err)
		}
	}
}

func testNotFound(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	if _, err := d.Open(ctx, "no/such", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open: %v", err)
	}
	if _, err := d.Stat(ctx, "no/such"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat: %v", err)
	}
	if _, _, err := d.Get(ctx, "no/such", 10); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if _, err := d.PutIf(ctx, "no/such", []byte("x"), "v1"); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Errorf("PutIf on a missing key with a version: %v", err)
	}
	if err := d.Delete(ctx, "no/such"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if names, err := d.List(ctx, "no/such/", "", 10); err != nil || len(names) != 0 {
		t.Errorf("List of a missing dir = %v, %v", names, err)
	}
}

func testTooLarge(t *testing.T, d storage.Driver) {
	put(t, d, "k", "0123456789")
	if _, _, err := d.Get(context.Background(), "k", 9); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("Get with max 9 of 10 bytes: %v", err)
	}
}

func testListPagination(t *testing.T, d storage.Driver) {
	const n = 1050
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("k%04d", i)
	}
	putAll(t, d, "list/", want)
	put(t, d, "list/deeper/x", "not listed")
	put(t, d, "listing", "not inside")
	var got []string
	for after := ""; ; {
		page, err := d.List(context.Background(), "list/", after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 100 {
			t.Fatalf("page of %d, limit 100", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d names (first %v), want %d in order", len(got), got[:min(3, len(got))], n)
	}
}

// putAll stores each name under dir, a few at a time.
func putAll(t *testing.T, d storage.Driver, dir string, names []string) {
	t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for range 8 {
		wg.Go(func() {
			for name := range work {
				errs <- d.Put(context.Background(), dir+name, strings.NewReader(name), -1)
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testPutIf(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	v1, err := d.PutIf(ctx, "cas", []byte("one"), "")
	if err != nil || v1 == "" {
		t.Fatalf("create: %q %v", v1, err)
	}
	if _, err := d.PutIf(ctx, "cas", []byte("again"), ""); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("second create: %v", err)
	}
	v2, err := d.PutIf(ctx, "cas", []byte("two"), v1)
	if err != nil || v2 == v1 {
		t.Fatalf("swap: %q %v", v2, err)
	}
	if _, err := d.PutIf(ctx, "cas", []byte("stale"), v1); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("swap with a stale version: %v", err)
	}
	data, version, err := d.Get(ctx, "cas", 10)
	if err != nil || string(data) != "two" || version != v2 {
		t.Fatalf("Get = %q %q %v, want two %q", data, version, err, v2)
	}
}

// testPutIfConcurrent runs 16 incrementers of one counter: every round has
// exactly one winner and no increment is lost.
func testPutIfConcurrent(t *testing.T, d storage.Driver) {
	const workers, rounds = 16, 3
	ctx := context.Background()
	if _, err := d.PutIf(ctx, "counter", []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() { errs <- increment(ctx, d, "counter", rounds) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, _, err := d.Get(ctx, "counter", 100)
	if err != nil || string(data) != fmt.Sprint(workers*rounds) {
		t.Fatalf("counter = %q (%v), want %d", data, err, workers*rounds)
	}
}

// increment adds 1 to the counter at key n times by compare-and-swap.
func increment(ctx context.Context, d storage.Driver, key string, n int) error {
	for done := 0; done < n; {
		data, version, err := d.Get(ctx, key, 100)
		if err != nil {
			return err
		}
		var v int
		fmt.Sscan(string(data), &v)
		_, err = d.PutIf(ctx, key, []byte(fmt.Sprint(v+1)), version)
		switch {
		case err == nil:
			done++
		case !errors.Is(err, storage.ErrPreconditionFailed):
			return err
		}
	}
	return nil
}

func testContextCanceled(t *testing.T, d storage.Driver) {
	put(t, d, "k", "data")
	ctx := canceled()
	checks := map[string]error{}
	_, checks["Open"] = d.Open(ctx, "k", 0)
	_, checks["Stat"] = d.Stat(ctx, "k")
	_, checks["List"] = d.List(ctx, "", "", 10)
	_, _, checks["Get"] = d.Get(ctx, "k", 10)
	_, checks["PutIf"] = d.PutIf(ctx, "k2", []byte("x"), "")
	checks["Put"] = d.Put(ctx, "k3", bytes.NewReader([]byte("x")), 1)
	checks["Delete"] = d.Delete(ctx, "k")
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v", name, err)
		}
	}
	live, cancel := context.WithCancel(context.Background())
	midway := &cancelingReader{r: newStream(3, 3*PartSize), after: PartSize + 1, cancel: cancel}
	if err := d.Put(live, "k4", midway, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Put canceled midway: %v", err)
	}
	for _, key := range []string{"k", "k2", "k3", "k4"} {
		if _, err := d.Stat(context.Background(), key); (key == "k") == errors.Is(err, storage.ErrNotFound) {
			t.Errorf("after canceled calls, Stat %s = %v", key, err)
		}
	}
}

// testConcurrentCanceledPuts cancels many multipart-sized Puts at once,
// each midway through a different part, so that part requests are cut off
// while others are in flight: every Put must fail with the cancellation and
// leave no key (and, checked by the driver's own clean-up, no multipart
// upload or temp file: an S3 server may store a cut-off part after the
// abort, which brings the upload back).
func testConcurrentCanceledPuts(t *testing.T, d storage.Driver) {
	const puts = 16
	var wg sync.WaitGroup
	for i := range puts {
		wg.Go(func() {
			live, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &cancelingReader{r: newStream(byte(i), 4*PartSize), after: 2*PartSize + 1 + int64(i)*4096, cancel: cancel}
			if err := d.Put(live, fmt.Sprint("c", i), r, -1); !errors.Is(err, context.Canceled) {
				t.Errorf("Put %d canceled midway: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range puts {
		if _, err := d.Stat(context.Background(), fmt.Sprint("c", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("after a canceled Put, Stat c%d = %v, want not found", i, err)
		}
	}
}

// cancelingReader cancels its context once it has yielded `after` bytes.
type cancelingReader struct {
	r      io.Reader
	after  int64
	n      int64
	cancel context.CancelFunc
}

// Read implements io.Reader.
func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n += int64(n); c.n >= c.after {
		c.cancel()
	}
	return n, err
}

// testPutFresh round-trips objects of known and unknown size through
// PutFresh and checks that a stream failing at its end, or shorter or longer
// than declared, gives an error and leaves no data under its key (at most an
// empty object).
func testPutFresh(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	f := d.(storage.FreshPutter)
	for i, c := range []struct{ size, declared int64 }{{100, 100}, {PartSize + 1, PartSize + 1}, {2*PartSize + 12345, 2*PartSize + 12345}, {2*PartSize + 1, -1}} {
		key := fmt.Sprint("fresh/", i)
		if err := f.PutFresh(ctx, key, newStream(byte(i), c.size), c.declared); err != nil {
			t.Fatalf("PutFresh %d bytes (declared %d): %v", c.size, c.declared, err)
		}
		rc, err := d.Open(ctx, key, 0)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := matchesStream(t, rc, byte(i), c.size, 0)
		rc.Close()
		if !ok {
			t.Fatalf("PutFresh %d bytes (declared %d): read back %d bytes with another hash", c.size, c.declared, n)
		}
	}
	boom := errors.New("client went away")
	const size = 2*PartSize + 7
	for _, c := range []struct {
		name string
		r    io.Reader
		want func(error) bool
	}{
		{"failing at its end", &failingReader{r: newStream(1, size), err: boom}, func(err error) bool { return errors.Is(err, boom) }},
		{"one byte short", newStream(1, size-1), func(err error) bool { return err != nil && strings.Contains(err.Error(), "short of the declared") }},
		{"one byte long", newStream(1, size+1), func(err error) bool { return err != nil && strings.Contains(err.Error(), "longer than the declared") }},
	} {
		key := "broken/" + strings.ReplaceAll(c.name, " ", "-")
		if err := f.PutFresh(ctx, key, c.r, size); !c.want(err) {
			t.Errorf("PutFresh of a stream %s = %v", c.name, err)
		}
		if info, err := d.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) && (err != nil || info.Size != 0) {
			t.Errorf("PutFresh of a stream %s left data: %+v, %v", c.name, info, err)
		}
	}
}
