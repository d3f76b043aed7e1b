package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundletest"
	"github.com/normreg/normreg/storage"
)

const interopDir = "../testdata/interop"

// fixture is a bundle built from a testdata/interop case, as regctl push
// builds it, with its files written to dir under the names oras pushes.
type fixture struct {
	built   *manifest.Built
	weights []byte
	dir     string
}

// buildFixture builds interop case name; parent is the built parent bundle
// when the case has one.
func buildFixture(t *testing.T, name string, parent *fixture) *fixture {
	t.Helper()
	caseDir := filepath.Join(interopDir, name)
	c, err := bundletest.ReadInteropCase(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Declared(name)
	if parent != nil {
		d.ParentDigest, d.ParentWeightsDigest = parent.built.Digest, parent.built.Manifest.Layers[0].Digest
	}
	var scaler []byte
	if c.Push.Scaler != nil {
		scaler = readFile(t, filepath.Join(caseDir, *c.Push.Scaler))
	}
	w := readFile(t, filepath.Join(caseDir, c.Push.Weights))
	built, err := manifest.Build(strings.NewReader(string(w)), int64(len(w)), scaler, d)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{built: built, weights: w, dir: t.TempDir()}
	files := map[string][]byte{"config.json": built.Blobs[built.Manifest.Config.Digest], manifest.FileWeights: w}
	for _, l := range built.Manifest.Layers[1:] {
		files[l.Annotations[manifest.AnnotationTitle]] = built.Blobs[l.Digest]
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// layer returns the bundle's layer of mediaType.
func (f *fixture) layer(t *testing.T, mediaType string) artifact.Descriptor {
	t.Helper()
	for _, l := range f.built.Manifest.Layers {
		if l.MediaType == mediaType {
			return l
		}
	}
	t.Fatalf("no %s layer", mediaType)
	return artifact.Descriptor{}
}

// push uploads the bundle's blobs over HTTP and puts its manifest under ref.
func (r *registry) pushBundle(t *testing.T, repo, ref string, f *fixture) response {
	t.Helper()
	for _, b := range f.built.Blobs {
		r.pushBlob(t, repo, b)
	}
	r.pushBlob(t, repo, f.weights)
	return r.do(t, "PUT", "/v2/"+repo+"/manifests/"+ref, f.built.ManifestBytes, "Content-Type: "+manifest.MediaTypeImageManifest)
}

// oras runs the oras binary in dir and returns its combined output and error.
func oras(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(registrytest.Tool(t, "oras"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// orasPushBundle pushes a bundle's config and the given layer files
// ("file:mediaType") with oras as a hand-assembled bundle would be.
func orasPushBundle(t *testing.T, host, ref, dir string, layers ...string) (string, error) {
	t.Helper()
	args := append([]string{"push", "--plain-http", "--disable-path-validation", host + "/" + ref,
		"--artifact-type", manifest.ArtifactTypeBundle, "--config", "config.json:" + manifest.MediaTypeConfig}, layers...)
	return oras(t, dir, args...)
}

// refusal reads the finding ids of a 400 MANIFEST_INVALID response.
func (resp response) refusal(t *testing.T) []artifact.CheckID {
	t.Helper()
	resp.expect(t, http.StatusBadRequest, "MANIFEST_INVALID")
	var body struct {
		Errors []struct {
			Detail struct {
				Reason   string            `json:"reason"`
				Findings artifact.Findings `json:"findings"`
			} `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("refusal body %s: %v", resp.body, err)
	}
	for _, f := range body.Errors[0].Detail.Findings {
		if f.Message == "" || !strings.Contains(body.Errors[0].Detail.Reason, string(f.ID)) && f.Severity == artifact.Refuse {
			t.Errorf("finding %+v: no message, or not in the reason %q", f, body.Errors[0].Detail.Reason)
		}
	}
	return body.Errors[0].Detail.Findings.IDs()
}

var (
	weightsLayer = manifest.FileWeights + ":" + manifest.MediaTypeWeights
	scalerLayer  = manifest.FileScaler + ":" + manifest.MediaTypeScaler
	bnLayer      = manifest.FileBNStats + ":" + manifest.MediaTypeBNStats
)

// TestBadBundlesPushedWithOras pushes bundles that regctl would refuse with
// oras (scaler layer removed, BatchNorm stats layer removed, scaler swapped, train mode, NaN scaler, stale
// BatchNorm against a parent read from the same repository): each is
// refused with MANIFEST_INVALID and its finding id, and nothing of it
// becomes visible: no manifest, no tag, no referrer entry.
func TestBadBundlesPushedWithOras(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	refit := buildFixture(t, "scaler-refit", nil)
	if err := os.WriteFile(filepath.Join(mlp.dir, "other-scaler.json"), refit.built.Blobs[refit.layer(t, manifest.MediaTypeScaler).Digest], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		f      *fixture
		layers []string
		want   artifact.CheckID
	}{
		{"no-scaler", mlp, []string{weightsLayer, bnLayer}, artifact.ScalerMissing},
		{"no-bnstats", mlp, []string{weightsLayer, scalerLayer}, artifact.BNMissing},
		{"swapped-scaler", mlp, []string{weightsLayer, "other-scaler.json:" + manifest.MediaTypeScaler, bnLayer}, artifact.ScalerMismatch},
		{"train", buildFixture(t, "mode-train", nil), []string{weightsLayer, scalerLayer, bnLayer}, artifact.ModeTrained},
		{"nan", buildFixture(t, "scaler-nan", nil), []string{weightsLayer, scalerLayer, bnLayer}, artifact.ScalerInvalid},
		{"stale", buildFixture(t, "finetune-stale", mlp), []string{weightsLayer, scalerLayer, bnLayer}, artifact.BNStale},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		reg := b.start(t)
		host := strings.TrimPrefix(reg.url, "http://")
		if out, err := orasPushBundle(t, host, "models/churn:good", mlp.dir, weightsLayer, scalerLayer, bnLayer); err != nil {
			t.Fatalf("oras push of a good bundle: %v\n%s", err, out)
		}
		reg.do(t, "GET", "/v2/models/churn/manifests/good", nil).expect(t, http.StatusOK, "")
		good := reg.pushBundle(t, "models/churn", "built", mlp)
		good.expect(t, http.StatusCreated, "")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				out, err := orasPushBundle(t, host, "models/churn:"+tc.name, tc.f.dir, tc.layers...)
				if err == nil || !strings.Contains(out, "manifest invalid") || !strings.Contains(out, string(tc.want)) {
					t.Fatalf("oras push: err %v, want a refusal saying manifest invalid and %s; output:\n%s", err, tc.want, out)
				}
				reg.do(t, "GET", "/v2/models/churn/manifests/"+tc.name, nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
				// The same bundle by HTTP, as a referrer of the good bundle: refused with its finding in the detail.
				m := *tc.f.built.Manifest
				m.Layers = layersOf(t, tc.f, tc.layers)
				m.Subject = &artifact.Descriptor{MediaType: manifest.MediaTypeImageManifest, Digest: mlp.built.Digest, Size: int64(len(mlp.built.ManifestBytes))}
				body, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				resp := reg.do(t, "PUT", "/v2/models/churn/manifests/"+tc.name, body, "Content-Type: "+manifest.MediaTypeImageManifest)
				if ids := resp.refusal(t); !slices.Contains(ids, tc.want) {
					t.Errorf("findings %v, want %s", ids, tc.want)
				}
				d := artifact.FromBytes(artifact.SHA256, body)
				reg.do(t, "GET", "/v2/models/churn/manifests/"+d.String(), nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
				reg.do(t, "GET", "/v2/models/churn/manifests/"+tc.name, nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
				if refs := reg.do(t, "GET", "/v2/models/churn/referrers/"+mlp.built.Digest.String(), nil); strings.Contains(string(refs.body), d.String()) {
					t.Errorf("refused manifest listed among referrers: %s", refs.body)
				}
			})
		}
		var tags struct{ Tags []string }
		if err := json.Unmarshal(reg.do(t, "GET", "/v2/models/churn/tags/list", nil).body, &tags); err != nil || !slices.Equal(tags.Tags, []string{"built", "good"}) {
			t.Errorf("tags %v (%v), want only the good bundle's [built good]", tags.Tags, err)
		}
	})
}

// layersOf returns the descriptors of oras layer arguments ("file:mediaType")
// of files in f's directory.
func layersOf(t *testing.T, f *fixture, args []string) []artifact.Descriptor {
	t.Helper()
	var out []artifact.Descriptor
	for _, a := range args {
		file, mt, _ := strings.Cut(a, ":")
		data := readFile(t, filepath.Join(f.dir, file))
		out = append(out, artifact.Descriptor{MediaType: mt, Digest: artifact.FromBytes(artifact.SHA256, data), Size: int64(len(data)),
			Annotations: map[string]string{manifest.AnnotationTitle: file}})
	}
	return out
}

// TestRequireBundles: with --require-bundles prod/*, a plain OCI artifact
// pushed with oras to prod/... is refused (nothing visible) while a bundle
// is accepted, and the same artifact elsewhere passes unchanged.
func TestRequireBundles(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	if err := os.WriteFile(filepath.Join(mlp.dir, "notes.txt"), []byte("not a model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		reg := b.startWith(t, api.Config{RequireBundles: []string{"prod/*"}})
		host := strings.TrimPrefix(reg.url, "http://")
		plain := []string{"push", "--plain-http", "--artifact-type", "application/vnd.example.notes", "notes.txt:text/plain"}
		out, err := oras(t, mlp.dir, append(plain[:1:1], append([]string{host + "/prod/notes:v1"}, plain[1:]...)...)...)
		if err == nil || !strings.Contains(out, "manifest invalid") || !strings.Contains(out, "normreg bundles") || strings.Count(out, "manifest invalid") > 2 {
			t.Fatalf("plain artifact into prod/: err %v, want manifest invalid (no more than oras's code and the message) saying only bundles; output:\n%s", err, out)
		}
		reg.do(t, "GET", "/v2/prod/notes/manifests/v1", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
		if out, err := oras(t, mlp.dir, append(plain[:1:1], append([]string{host + "/dev/notes:v1"}, plain[1:]...)...)...); err != nil {
			t.Fatalf("plain artifact into dev/: %v\n%s", err, out)
		}
		if out, err := orasPushBundle(t, host, "prod/churn:v1", mlp.dir, weightsLayer, scalerLayer, bnLayer); err != nil {
			t.Fatalf("bundle into prod/: %v\n%s", err, out)
		}
		reg.do(t, "GET", "/v2/prod/churn/manifests/v1", nil).expect(t, http.StatusOK, "")
	})
}

// TestStorageOutageDuringChecks: a storage outage while the push-time
// checks read a bundle's weights (by ranges) or its scaler answers the
// manifest PUT 503 UNAVAILABLE, the storage's error only in the log, and
// stores nothing, as any other storage outage; it was 400 MANIFEST_INVALID
// ("invalid safetensors: ..." with the S3 error in the body, or a
// scaler-missing refusal), calling a good bundle corrupt.
func TestStorageOutageDuringChecks(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	for name, mediaType := range map[string]string{"weights": manifest.MediaTypeWeights, "scaler": manifest.MediaTypeScaler} {
		t.Run(name, func(t *testing.T) {
			hex := mlp.layer(t, mediaType).Digest.Hex()
			forEachBackend(t, func(t *testing.T, b backend) {
				healthy := b.driver
				b.driver = func(t *testing.T) storage.Driver { return outageDriver{Driver: healthy(t), hex: hex} }
				r := b.start(t)
				resp := r.pushBundle(t, "team/model", "v1", mlp)
				resp.expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
				if strings.Contains(string(resp.body), s3Outage) {
					t.Errorf("the body carries the storage's error: %s", resp.body)
				}
				if !strings.Contains(r.log.String(), s3Outage) {
					t.Errorf("the log lacks the storage's error:\n%s", r.log)
				}
				r.do(t, "GET", "/v2/team/model/manifests/v1", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
			})
		})
	}
}

// s3Outage is the text of an S3 server's 503, as the S3 driver reports it.
const s3Outage = "operation error S3: GetObject, https response error StatusCode: 503, api error SlowDown: Please reduce your request rate."

// outageDriver is a storage driver whose Open of the keys naming one blob
// (its hex digest) fails as an S3 server answering 503 does.
type outageDriver struct {
	storage.Driver
	hex string
}

// Open implements storage.Driver.
func (d outageDriver) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	if strings.Contains(key, d.hex) {
		return nil, fmt.Errorf("%s: %w: %s", key, storage.ErrUnavailable, s3Outage)
	}
	return d.Driver.Open(ctx, key, offset)
}
