package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// TestStorageFullIs507: a push onto a full disk (the fs driver's write
// failing with ENOSPC) answers 507 with an error saying the registry's
// storage is full, the system's error only in the log, and leaves no blob;
// it answered 500 UNKNOWN "internal server error".
func TestStorageFullIs507(t *testing.T) {
	b := backends(t)[0]
	onDisk, isFull := b.driver, &atomic.Bool{}
	b.driver = func(t *testing.T) storage.Driver { return fullDriver{onDisk(t), isFull} }
	r := b.start(t)
	data := []byte("a layer that does not fit")
	d := artifact.FromBytes(artifact.SHA256, data)
	loc := r.do(t, "POST", "/v2/team/model/blobs/uploads/", nil).header.Get("Location")
	isFull.Store(true)
	for _, req := range []struct{ method, path string }{
		{"POST", "/v2/team/model/blobs/uploads/?digest=" + d.String()},
		{"PATCH", loc},
	} {
		resp := r.do(t, req.method, req.path, data)
		resp.expect(t, http.StatusInsufficientStorage, "UNAVAILABLE")
		var e struct{ Errors []struct{ Message string } }
		if err := json.Unmarshal(resp.body, &e); err != nil || !strings.Contains(e.Errors[0].Message, "storage is full") {
			t.Errorf("%s %s: body %s, want a message saying the storage is full", req.method, req.path, resp.body)
		}
		if strings.Contains(string(resp.body), noSpace.Error()) {
			t.Errorf("%s %s: the body carries the system's error: %s", req.method, req.path, resp.body)
		}
	}
	if !strings.Contains(r.log.String(), noSpace.Error()) {
		t.Errorf("the log lacks the system's error:\n%s", r.log)
	}
	r.do(t, "HEAD", "/v2/team/model/blobs/"+d.String(), nil).expect(t, http.StatusNotFound, "")
}

// noSpace is the error of a write to a full disk.
var noSpace = &os.PathError{Op: "write", Path: "/srv/registry/.tmp/put-1", Err: syscall.ENOSPC}

// fullDriver is a storage driver on a disk that fills up when full is set:
// then every Put reads a little of its content and fails as the fs
// driver's write does.
type fullDriver struct {
	storage.Driver
	full *atomic.Bool
}

// Put implements storage.Driver.
func (d fullDriver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if !d.full.Load() {
		return d.Driver.Put(ctx, key, r, size)
	}
	if _, err := io.CopyN(io.Discard, r, 4); err != nil {
		return err
	}
	return fmt.Errorf("put %s: %w: %w", key, storage.ErrFull, noSpace)
}
