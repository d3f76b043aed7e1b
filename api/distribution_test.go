package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// TestBadInputStoresNothing: each malformed request gets its OCI error, and
// afterwards the registry holds nothing it sent.
func TestBadInputStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		config := []byte(`{"bad":"input"}`)
		r.pushBlob(t, "team/model", config)
		good := imageManifest("", nil, config)
		goodDigest := artifact.FromBytes(artifact.SHA256, good)
		mt := "Content-Type: " + manifest.MediaTypeImageManifest
		layer := []byte("a pushed layer")
		r.pushBlob(t, "team/model", layer)
		wrongSize := bytes.Replace(imageManifest("", nil, config, layer), []byte(`"size":14`), []byte(`"size":15`), 1)
		huge := imageManifest("", nil, config)
		huge = append(huge[:len(huge)-1], []byte(`,"annotations":{"pad":"`+strings.Repeat("x", manifest.MaxSize)+`"}}`)...)
		cases := []struct {
			name, method, path string
			body               []byte
			header             []string
			status             int
			code               string
		}{
			{"malformed manifest JSON", "PUT", "/v2/team/model/manifests/v1", []byte(`{"schemaVersion":2,`), []string{mt}, 400, "MANIFEST_INVALID"},
			{"content type disagrees", "PUT", "/v2/team/model/manifests/v1", good, []string{"Content-Type: " + manifest.MediaTypeImageIndex}, 400, "MANIFEST_INVALID"},
			{"wrong manifest digest", "PUT", "/v2/team/model/manifests/" + artifact.FromBytes(artifact.SHA256, []byte("other")).String(), good, []string{mt}, 400, "DIGEST_INVALID"},
			{"oversized manifest", "PUT", "/v2/team/model/manifests/v1", huge, []string{mt}, 413, "MANIFEST_INVALID"},
			{"layer size wrong", "PUT", "/v2/team/model/manifests/v1", wrongSize, []string{mt}, 400, "MANIFEST_INVALID"},
			{"missing layer", "PUT", "/v2/team/model/manifests/v1", imageManifest("", nil, config, []byte("never pushed")), []string{mt}, 400, "MANIFEST_BLOB_UNKNOWN"},
			{"dot-dot name", "PUT", "/v2/team/../model/manifests/v1", good, []string{mt}, 400, "NAME_INVALID"},
			{"upper-case name", "PUT", "/v2/Team/Model/manifests/v1", good, []string{mt}, 400, "NAME_INVALID"},
			{"invalid tag", "PUT", "/v2/team/model/manifests/-v1", good, []string{mt}, 400, "MANIFEST_INVALID"},
			{"wrong blob digest", "POST", "/v2/team/model/blobs/uploads/?digest=" + goodDigest.String(), []byte("not the manifest"), nil, 400, "DIGEST_INVALID"},
			{"malformed blob digest", "POST", "/v2/team/model/blobs/uploads/?digest=sha256:abc", []byte("x"), nil, 400, "DIGEST_INVALID"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r.do(t, c.method, c.path, c.body, c.header...).expect(t, c.status, c.code)
			})
		}
		r.do(t, "GET", "/v2/team/model/manifests/v1", nil).expect(t, 404, "MANIFEST_UNKNOWN")
		r.do(t, "HEAD", "/v2/team/model/blobs/"+goodDigest.String(), nil).expect(t, 404, "")
		r.do(t, "GET", "/v2/team/model/manifests/"+goodDigest.String(), nil).expect(t, 404, "MANIFEST_UNKNOWN")
		var tags struct{ Tags []string }
		resp := r.do(t, "GET", "/v2/team/model/tags/list", nil)
		resp.expect(t, 200, "")
		if err := json.Unmarshal(resp.body, &tags); err != nil || len(tags.Tags) != 0 {
			t.Fatalf("tags after refused pushes: %s", resp.body)
		}
	})
}

// TestChunkedUploadResume: chunks go in order; an out-of-order chunk gets 416
// and changes nothing; GET on the session tells the client where to resume.
func TestChunkedUploadResume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		data := bytes.Repeat([]byte("0123456789"), 1000)
		d := artifact.FromBytes(artifact.SHA256, data)
		resp := r.do(t, "POST", "/v2/team/model/blobs/uploads/", nil)
		resp.expect(t, 202, "")
		loc := resp.header.Get("Location")
		if resp.header.Get("Docker-Upload-UUID") == "" || !strings.HasPrefix(loc, "/v2/team/model/blobs/uploads/") {
			t.Fatalf("session headers %v", resp.header)
		}
		r.do(t, "PATCH", loc, data[:4000], "Content-Range: 0-3999").expect(t, 202, "")
		r.do(t, "PATCH", loc, data[6000:], "Content-Range: 6000-9999").expect(t, 416, "BLOB_UPLOAD_INVALID")
		status := r.do(t, "GET", loc, nil)
		status.expect(t, 204, "")
		if got := status.header.Get("Range"); got != "0-3999" {
			t.Fatalf("Range %q after an out-of-order chunk, want 0-3999", got)
		}
		r.do(t, "PATCH", loc, data[4000:7000], "Content-Range: 4000-6999").expect(t, 202, "")
		r.do(t, "PUT", loc+"?digest="+d.String(), data[7000:], "Content-Range: 7000-9999").expect(t, 201, "")
		got := r.do(t, "GET", "/v2/team/model/blobs/"+d.String(), nil)
		got.expect(t, 200, "")
		if !bytes.Equal(got.body, data) {
			t.Fatalf("blob read back differs (%d bytes)", len(got.body))
		}
		part := r.do(t, "GET", "/v2/team/model/blobs/"+d.String(), nil, "Range: bytes=10-19")
		part.expect(t, 206, "")
		if string(part.body) != "0123456789" || part.header.Get("Content-Range") != "bytes 10-19/10000" {
			t.Fatalf("range read %q, Content-Range %q", part.body, part.header.Get("Content-Range"))
		}
		r.do(t, "GET", loc, nil).expect(t, 404, "BLOB_UPLOAD_UNKNOWN")
	})
}

// TestUploadCancelAndWrongDigest: a final PUT with the wrong digest stores
// nothing; a cancelled session is gone.
func TestUploadCancelAndWrongDigest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		loc := r.do(t, "POST", "/v2/team/model/blobs/uploads/", nil).header.Get("Location")
		r.do(t, "PATCH", loc, []byte("abc")).expect(t, 202, "")
		wrong := artifact.FromBytes(artifact.SHA256, []byte("abd"))
		r.do(t, "PUT", loc+"?digest="+wrong.String(), nil).expect(t, 400, "DIGEST_INVALID")
		r.do(t, "HEAD", "/v2/team/model/blobs/"+wrong.String(), nil).expect(t, 404, "")
		r.do(t, "DELETE", loc, nil).expect(t, 204, "")
		r.do(t, "GET", loc, nil).expect(t, 404, "BLOB_UPLOAD_UNKNOWN")
		r.do(t, "GET", "/v2/team/model/blobs/uploads/not-a-uuid", nil).expect(t, 404, "BLOB_UPLOAD_UNKNOWN")
	})
}

// TestMount: a blob is mounted from a named repository, or from anywhere;
// mounting a blob the registry lacks opens a session instead.
func TestMount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		d := r.pushBlob(t, "team/a", []byte("shared layer"))
		r.do(t, "HEAD", "/v2/team/b/blobs/"+d.String(), nil).expect(t, 404, "")
		resp := r.do(t, "POST", "/v2/team/b/blobs/uploads/?mount="+d.String()+"&from=team/a", nil)
		resp.expect(t, 201, "")
		if resp.header.Get("Location") != "/v2/team/b/blobs/"+d.String() || resp.header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("mount headers %v", resp.header)
		}
		if log := r.log.String(); !strings.Contains(log, `query="mount=`+d.String()+`&from=team/a"`) {
			t.Fatalf("the request log does not show the mount's query:\n%s", log)
		}
		r.do(t, "HEAD", "/v2/team/b/blobs/"+d.String(), nil).expect(t, 200, "")
		r.do(t, "POST", "/v2/team/c/blobs/uploads/?mount="+d.String(), nil).expect(t, 201, "")
		r.do(t, "GET", "/v2/team/c/blobs/"+d.String(), nil).expect(t, 200, "")
		missing := artifact.FromBytes(artifact.SHA256, []byte("nowhere"))
		fallback := r.do(t, "POST", "/v2/team/d/blobs/uploads/?mount="+missing.String()+"&from=team/a", nil)
		fallback.expect(t, 202, "")
		if !strings.HasPrefix(fallback.header.Get("Location"), "/v2/team/d/blobs/uploads/") {
			t.Fatalf("mount of a missing blob: Location %q, want a session", fallback.header.Get("Location"))
		}
		r.do(t, "HEAD", "/v2/team/d/blobs/"+missing.String(), nil).expect(t, 404, "")
	})
}

// TestReferrers: manifests with a subject are listed under it, filtered by
// artifactType on request; the subject need not exist.
func TestReferrers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		subject := r.pushImage(t, "team/model", "v1", "application/vnd.test.model", nil, []byte("{}"), []byte("weights"))
		missing := artifact.Descriptor{MediaType: manifest.MediaTypeImageManifest, Digest: artifact.FromBytes(artifact.SHA256, []byte("absent")), Size: 6}
		eval := r.pushImage(t, "team/model", "", "application/vnd.test.eval", &subject, []byte(`{"eval":1}`))
		sig := r.pushImage(t, "team/model", "", "application/vnd.test.signature", &subject, []byte(`{"sig":1}`))
		r.pushImage(t, "team/model", "", "application/vnd.test.eval", &missing, []byte(`{"orphan":1}`))
		list := func(query string) (response, []artifact.Descriptor) {
			resp := r.do(t, "GET", "/v2/team/model/referrers/"+subject.Digest.String()+query, nil)
			resp.expect(t, 200, "")
			var index struct{ Manifests []artifact.Descriptor }
			if err := json.Unmarshal(resp.body, &index); err != nil || resp.header.Get("Content-Type") != manifest.MediaTypeImageIndex {
				t.Fatalf("referrers %s: %v, Content-Type %q", resp.body, err, resp.header.Get("Content-Type"))
			}
			return resp, index.Manifests
		}
		if _, all := list(""); len(all) != 2 {
			t.Fatalf("%d referrers, want 2 (%v)", len(all), all)
		}
		resp, only := list("?artifactType=application/vnd.test.signature")
		if len(only) != 1 || only[0].Digest != sig.Digest || only[0].ArtifactType != "application/vnd.test.signature" {
			t.Fatalf("filtered referrers %v, want only %s", only, sig.Digest)
		}
		if resp.header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Fatalf("OCI-Filters-Applied %q", resp.header.Get("OCI-Filters-Applied"))
		}
		put := r.do(t, "PUT", "/v2/team/model/manifests/with-subject", imageManifest("application/vnd.test.eval", &subject, []byte(`{"eval":1}`)),
			"Content-Type: "+manifest.MediaTypeImageManifest)
		put.expect(t, 201, "")
		if put.header.Get("OCI-Subject") != subject.Digest.String() {
			t.Fatalf("OCI-Subject %q, want %s", put.header.Get("OCI-Subject"), subject.Digest)
		}
		if _, evals := list("?artifactType=application/vnd.test.eval"); len(evals) != 1 || evals[0].Digest != eval.Digest {
			t.Fatalf("eval referrers %v", evals)
		}
	})
}

// TestTagsPagination: n and last page through the tags in order, with a Link
// to each next page.
func TestTagsPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		img := r.pushImage(t, "team/model", "t0", "", nil, []byte("{}"))
		want := []string{"t0"}
		for i := 1; i < 5; i++ {
			tag := fmt.Sprintf("t%d", i)
			r.do(t, "PUT", "/v2/team/model/manifests/"+tag, imageManifest("", nil, []byte("{}")), "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, 201, "")
			want = append(want, tag)
		}
		var got []string
		next := "/v2/team/model/tags/list?n=2"
		for pages := 0; next != ""; pages++ {
			if pages > 3 {
				t.Fatalf("more than 3 pages of 2 for 5 tags")
			}
			resp := r.do(t, "GET", next, nil)
			resp.expect(t, 200, "")
			var page struct {
				Name string
				Tags []string
			}
			if err := json.Unmarshal(resp.body, &page); err != nil || page.Name != "team/model" || len(page.Tags) > 2 {
				t.Fatalf("page %s", resp.body)
			}
			got = append(got, page.Tags...)
			next = linkNext(resp.header.Get("Link"))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("paged tags %v, want %v", got, want)
		}
		r.do(t, "GET", "/v2/team/model/tags/list?n=x", nil).expect(t, 400, "PAGINATION_NUMBER_INVALID")
		resolved := r.do(t, "HEAD", "/v2/team/model/manifests/t3", nil)
		if resolved.status != 200 || resolved.header.Get("Docker-Content-Digest") != img.Digest.String() {
			t.Fatalf("HEAD by tag: %d %v", resolved.status, resolved.header)
		}
		r.do(t, "DELETE", "/v2/team/model/manifests/t3", nil).expect(t, 202, "")
		r.do(t, "GET", "/v2/team/model/manifests/t3", nil).expect(t, 404, "MANIFEST_UNKNOWN")
		catalog := r.do(t, "GET", "/v2/_catalog?n=10", nil)
		if catalog.status != 200 || !strings.Contains(string(catalog.body), `"team/model"`) {
			t.Fatalf("catalog %d %s", catalog.status, catalog.body)
		}
	})
}

// linkNext returns the target of a `<url>; rel="next"` Link header, or "".
func linkNext(link string) string {
	target, _, ok := strings.Cut(strings.TrimPrefix(link, "<"), ">")
	if !ok {
		return ""
	}
	return target
}

// TestErrorsAndHeaders: every response names the API version; unknown paths
// and methods get OCI errors.
func TestErrorsAndHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		ping := r.do(t, "GET", "/v2/", nil)
		ping.expect(t, 200, "")
		if ping.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Fatalf("ping headers %v", ping.header)
		}
		r.do(t, "GET", "/v2/team/model/nothing/here", nil).expect(t, 404, "NOT_FOUND")
		r.do(t, "POST", "/v2/team/model/tags/list", nil).expect(t, 405, "UNSUPPORTED")
		r.do(t, "GET", "/v2/team/model/blobs/sha256:zz", nil).expect(t, 400, "DIGEST_INVALID")
		r.do(t, "GET", "/v2/team/model/blobs/"+artifact.FromBytes(artifact.SHA256, nil).String(), nil).expect(t, 404, "BLOB_UNKNOWN")
		// A HEAD's error has the headers of the GET's, as distribution's does.
		head := r.do(t, "HEAD", "/v2/team/model/blobs/"+artifact.FromBytes(artifact.SHA256, nil).String(), nil)
		if head.status != 404 || head.header.Get("Content-Type") != "application/json" || head.header.Get("Content-Length") == "" || len(head.body) != 0 {
			t.Errorf("HEAD of an unknown blob: %d %v %q", head.status, head.header, head.body)
		}
		r.do(t, "GET", "/healthz", nil).expect(t, 200, "")
		r.do(t, "GET", "/readyz", nil).expect(t, 200, "")
		// Outside /v2/ too, with the path in the detail and no framework text.
		for _, c := range []struct {
			method, path, code string
			status             int
		}{{"GET", "/nope", "NOT_FOUND", 404}, {"GET", "/api/v1/nope", "NOT_FOUND", 404}, {"POST", "/api/v1/models", "UNSUPPORTED", 405}} {
			resp := r.do(t, c.method, c.path, nil)
			resp.expect(t, c.status, c.code)
			if !bytes.Contains(resp.body, []byte(c.path)) || bytes.Contains(resp.body, []byte("code=")) {
				t.Errorf("%s %s: body %s; want the path in the detail and no framework text", c.method, c.path, resp.body)
			}
		}
	})
}

// TestSHA512Manifest: a manifest PUT by a sha512 reference is stored under
// that digest.
func TestSHA512Manifest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		r.pushBlob(t, "team/model", []byte("{}"))
		body := imageManifest("", nil, []byte("{}"))
		d := artifact.FromBytes(artifact.SHA512, body)
		resp := r.do(t, "PUT", "/v2/team/model/manifests/"+d.String(), body, "Content-Type: "+manifest.MediaTypeImageManifest)
		resp.expect(t, 201, "")
		if resp.header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("digest %q, want %s", resp.header.Get("Docker-Content-Digest"), d)
		}
		got := r.do(t, "GET", "/v2/team/model/manifests/"+d.String(), nil)
		if got.status != http.StatusOK || !bytes.Equal(got.body, body) {
			t.Fatalf("GET by sha512: %d %s", got.status, got.body)
		}
	})
}

// TestDeleteManifestByDigestRemovesItsTags: deleting a manifest by digest
// deletes the tags pointing to it (recorded in their history), leaves the
// others, and pushing the manifest again by digest brings no tag back.
func TestDeleteManifestByDigestRemovesItsTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		img := r.pushImage(t, "team/del", "v1", "", nil, []byte("{}"), []byte("layer one"))
		body := r.do(t, "GET", "/v2/team/del/manifests/v1", nil).body
		r.do(t, "PUT", "/v2/team/del/manifests/alias", body, "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusCreated, "")
		other := r.pushImage(t, "team/del", "v2", "", nil, []byte("{}"), []byte("layer two"))
		r.do(t, "DELETE", "/v2/team/del/manifests/"+img.Digest.String(), nil).expect(t, http.StatusAccepted, "")
		tags := func() string {
			resp := r.do(t, "GET", "/v2/team/del/tags/list", nil)
			resp.expect(t, http.StatusOK, "")
			var list struct{ Tags []string }
			if err := json.Unmarshal(resp.body, &list); err != nil {
				t.Fatal(err)
			}
			return strings.Join(list.Tags, ",")
		}
		if got := tags(); got != "v2" {
			t.Fatalf("tags after deleting %s: %q, want v2", img.Digest, got)
		}
		r.do(t, "GET", "/v2/team/del/manifests/v1", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r.do(t, "GET", "/v2/team/del/manifests/"+img.Digest.String(), nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
		if got := r.do(t, "HEAD", "/v2/team/del/manifests/v2", nil).header.Get("Docker-Content-Digest"); got != other.Digest.String() {
			t.Fatalf("v2 is %q, want %s", got, other.Digest)
		}
		for _, tag := range []string{"v1", "alias"} {
			if moves := r.history(t, "team/del", tag); len(moves) != 2 || moves[1].From != img.Digest || moves[1].To != "" {
				t.Fatalf("%s history %+v, want its deletion last", tag, moves)
			}
		}
		r.do(t, "PUT", "/v2/team/del/manifests/"+img.Digest.String(), body, "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusCreated, "")
		if got := tags(); got != "v2" {
			t.Fatalf("tags after pushing %s again by digest: %q, want v2", img.Digest, got)
		}
		r.do(t, "DELETE", "/v2/team/del/manifests/"+img.Digest.String(), nil).expect(t, http.StatusAccepted, "")
		r.do(t, "DELETE", "/v2/team/del/manifests/"+img.Digest.String(), nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
}

// TestTagsListUnknownRepository: listing the tags (or the model versions)
// of a repository nothing was pushed to is 404 NAME_UNKNOWN (a typo in a
// deploy script is not an empty repository); one holding only a blob lists
// none, 200.
func TestTagsListUnknownRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		r.do(t, "GET", "/v2/no/such/tags/list", nil).expect(t, 404, "NAME_UNKNOWN")
		r.do(t, "GET", "/api/v1/models/no/such/versions", nil).expect(t, 404, "NAME_UNKNOWN")
		r.pushBlob(t, "team/blobs-only", []byte("a layer"))
		resp := r.do(t, "GET", "/v2/team/blobs-only/tags/list", nil)
		resp.expect(t, 200, "")
		if string(resp.body) != `{"name":"team/blobs-only","tags":[]}`+"\n" {
			t.Errorf("tags of a repository without tags: %s", resp.body)
		}
		resp = r.do(t, "GET", "/api/v1/models/team/blobs-only/versions", nil)
		resp.expect(t, 200, "")
		if string(resp.body) != `{"name":"team/blobs-only","versions":[]}`+"\n" {
			t.Errorf("versions of a repository without bundles: %s", resp.body)
		}
	})
}
