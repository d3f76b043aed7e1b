package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// TestTwoServersOneStorage: two registry servers on one storage behave as
// one: an upload started on one is continued and finished on the other, and
// a tag pushed on one resolves on the other.
func TestTwoServersOneStorage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		one, two := b.start(t), b.start(t)
		data := bytes.Repeat([]byte("replica"), 3000)
		d := artifact.FromBytes(artifact.SHA256, data)
		loc := one.do(t, "POST", "/v2/team/model/blobs/uploads/", nil).header.Get("Location")
		one.do(t, "PATCH", loc, data[:10000], "Content-Range: 0-9999").expect(t, 202, "")
		status := two.do(t, "GET", loc, nil)
		status.expect(t, 204, "")
		if status.header.Get("Range") != "0-9999" {
			t.Fatalf("second server sees Range %q, want 0-9999", status.header.Get("Range"))
		}
		two.do(t, "PUT", loc+"?digest="+d.String(), data[10000:]).expect(t, 201, "")
		got := one.do(t, "GET", "/v2/team/model/blobs/"+d.String(), nil)
		if got.status != 200 || !bytes.Equal(got.body, data) {
			t.Fatalf("blob finished on the second server, read on the first: %d, %d bytes", got.status, len(got.body))
		}
		img := one.pushImage(t, "team/model", "v1", "", nil, []byte("{}"), data)
		resolved := two.do(t, "GET", "/v2/team/model/manifests/v1", nil)
		resolved.expect(t, 200, "")
		if resolved.header.Get("Docker-Content-Digest") != img.Digest.String() {
			t.Fatalf("tag pushed on one resolves on two to %q, want %s", resolved.header.Get("Docker-Content-Digest"), img.Digest)
		}
	})
}

// TestClientDisconnectStoresNothing: a client that goes away in the middle
// of a monolithic upload or a chunk leaves no blob and no bytes in the session.
func TestClientDisconnectStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		data := bytes.Repeat([]byte("disconnect"), 100000)
		d := artifact.FromBytes(artifact.SHA256, data)
		sendHalf(t, r, "POST", "/v2/team/model/blobs/uploads/?digest="+d.String(), len(data), data[:len(data)/2])
		r.do(t, "HEAD", "/v2/team/model/blobs/"+d.String(), nil).expect(t, 404, "")

		loc := r.do(t, "POST", "/v2/team/model/blobs/uploads/", nil).header.Get("Location")
		r.do(t, "PATCH", loc, data[:100], "Content-Range: 0-99").expect(t, 202, "")
		sendHalf(t, r, "PATCH", loc, len(data)-100, data[100:len(data)/2])
		status := r.do(t, "GET", loc, nil)
		if status.status != 204 || status.header.Get("Range") != "0-99" {
			t.Fatalf("session after a dropped chunk: %d Range %q, want 0-99", status.status, status.header.Get("Range"))
		}
		r.do(t, "PUT", loc+"?digest="+d.String(), data[100:]).expect(t, 201, "")
	})
}

// sendHalf sends a request announcing length body bytes, writes only part,
// closes the connection, and waits until the server has logged the request
// (recognised by its announced length, which the callers keep unique).
func sendHalf(t *testing.T, r *registry, method, path string, length int, part []byte) {
	t.Helper()
	conn := r.dialRequest(t, method, path, length)
	if _, err := conn.Write(part); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	logged := fmt.Sprintf("bytes_in=%d", length)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.log.String(), logged); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server never finished the dropped %s", method)
		}
	}
}

// TestManifestIndexChildren: an index is accepted only when its child
// manifests are in the repository.
func TestManifestIndexChildren(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		child := r.pushImage(t, "team/model", "", "", nil, []byte("{}"))
		index := func(children ...artifact.Descriptor) []byte {
			return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":%s}`, manifest.MediaTypeImageIndex, descriptorsJSON(children)))
		}
		absent := artifact.Descriptor{MediaType: manifest.MediaTypeImageManifest, Digest: artifact.FromBytes(artifact.SHA256, []byte("absent")), Size: 6}
		ct := "Content-Type: " + manifest.MediaTypeImageIndex
		r.do(t, "PUT", "/v2/team/model/manifests/multi", index(child, absent), ct).expect(t, 400, "MANIFEST_BLOB_UNKNOWN")
		r.do(t, "GET", "/v2/team/model/manifests/multi", nil).expect(t, 404, "MANIFEST_UNKNOWN")
		r.do(t, "PUT", "/v2/team/model/manifests/multi", index(child), ct).expect(t, 201, "")
		got := r.do(t, "GET", "/v2/team/model/manifests/multi", nil)
		if got.status != 200 || got.header.Get("Content-Type") != manifest.MediaTypeImageIndex {
			t.Fatalf("index GET: %d %q", got.status, got.header.Get("Content-Type"))
		}
	})
}

// descriptorsJSON encodes descriptors as a JSON array.
func descriptorsJSON(ds []artifact.Descriptor) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, d.MediaType, d.Digest, d.Size)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
