package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// TestUploadBodyEndsEarly: a blob upload request (POST ?digest=, PATCH,
// PUT of a session) whose client closes its side after 10 of the 1000
// bytes its Content-Length announces answers 400 BLOB_UPLOAD_INVALID
// saying the body was 990 bytes short, and stores nothing; it answered
// 500 UNKNOWN (io.ErrUnexpectedEOF). A manifest PUT cut off so answers 400
// MANIFEST_INVALID.
func TestUploadBodyEndsEarly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		d := artifact.FromBytes(artifact.SHA256, []byte(strings.Repeat("x", 1000)))
		session := func() string { return r.do(t, "POST", "/v2/team/model/blobs/uploads/", nil).header.Get("Location") }
		patched := session()
		put := session()
		for _, req := range []struct{ method, path string }{
			{"POST", "/v2/team/model/blobs/uploads/?digest=" + d.String()},
			{"PATCH", patched},
			{"PUT", put + "?digest=" + d.String()},
		} {
			resp := r.sendShort(t, req.method, req.path, 1000, 10)
			resp.expect(t, http.StatusBadRequest, "BLOB_UPLOAD_INVALID")
			if !strings.Contains(string(resp.body), "990 short of its Content-Length 1000") {
				t.Errorf("%s %s: body %s, want it to say the body was 990 bytes short", req.method, req.path, resp.body)
			}
		}
		resp := r.sendShort(t, "PUT", "/v2/team/model/manifests/v1", 1000, 10)
		resp.expect(t, http.StatusBadRequest, "MANIFEST_INVALID")
		if !strings.Contains(string(resp.body), "990 short of its Content-Length 1000") {
			t.Errorf("manifest PUT: body %s, want it to say the body was 990 bytes short", resp.body)
		}
		r.do(t, "HEAD", "/v2/team/model/manifests/v1", nil).expect(t, http.StatusNotFound, "")
		r.do(t, "HEAD", "/v2/team/model/blobs/"+d.String(), nil).expect(t, http.StatusNotFound, "")
		for _, loc := range []string{patched, put} {
			if got := r.do(t, "GET", loc, nil).header.Get("Range"); got != "0-0" {
				t.Errorf("session %s holds Range %q, want nothing (0-0)", loc, got)
			}
		}
	})
}

// sendShort sends a request whose header announces a body of length bytes
// over a raw connection, sends only sent bytes of it, closes its writing
// side, and reads the response.
func (r *registry) sendShort(t *testing.T, method, path string, length, sent int) response {
	t.Helper()
	conn := r.dialRequest(t, method, path, length)
	defer conn.Close()
	if _, err := io.WriteString(conn, strings.Repeat("x", sent)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, resp)
}
