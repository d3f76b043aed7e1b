package manifest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

var (
	configDigest = artifact.FromBytes(artifact.SHA256, []byte("{}"))
	layerDigest  = artifact.FromBytes(artifact.SHA256, []byte("layer"))
)

func image(extra string) string {
	return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.normreg.config.v1+json","digest":"` + string(configDigest) + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.normreg.weights.v1.safetensors","digest":"` + string(layerDigest) + `","size":5}]` + extra + `}`
}

func TestParseAccepts(t *testing.T) {
	subject := `,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + string(layerDigest) + `","size":5}`
	cases := []struct {
		name, contentType, body, mediaType string
		blobs                              int
	}{
		{"image", manifest.MediaTypeImageManifest, image(""), manifest.MediaTypeImageManifest, 2},
		{"content type with parameters", manifest.MediaTypeImageManifest + "; charset=utf-8", image(""), manifest.MediaTypeImageManifest, 2},
		{"no content type", "", image(subject), manifest.MediaTypeImageManifest, 2},
		{"media type only in header", manifest.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[]}`, manifest.MediaTypeImageIndex, 0},
		{"foreign layer skipped", manifest.MediaTypeImageManifest,
			strings.Replace(image(""), "application/vnd.normreg.weights.v1.safetensors", "application/vnd.oci.image.layer.nondistributable.v1.tar", 1),
			manifest.MediaTypeImageManifest, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := manifest.Parse(c.contentType, []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != c.mediaType || len(m.Blobs()) != c.blobs {
				t.Fatalf("media type %q, %d blobs; want %q, %d", m.MediaType, len(m.Blobs()), c.mediaType, c.blobs)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]struct{ contentType, body string }{
		"malformed JSON":          {manifest.MediaTypeImageManifest, `{"schemaVersion":2,`},
		"content type disagrees":  {manifest.MediaTypeImageIndex, image("")},
		"unsupported media type":  {"text/plain", `{"schemaVersion":2,"mediaType":"text/plain"}`},
		"no media type":           {"", `{"schemaVersion":2,"manifests":[]}`},
		"schema version 1":        {manifest.MediaTypeImageManifest, strings.Replace(image(""), `"schemaVersion":2`, `"schemaVersion":1`, 1)},
		"image without config":    {manifest.MediaTypeImageManifest, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`},
		"bad layer digest":        {manifest.MediaTypeImageManifest, strings.Replace(image(""), string(layerDigest), "sha256:abc", 1)},
		"negative size":           {manifest.MediaTypeImageManifest, strings.Replace(image(""), `"size":5`, `"size":-5`, 1)},
		"data disagrees":          {manifest.MediaTypeImageManifest, strings.Replace(image(""), `"size":2}`, `"size":2,"data":"e30K"}`, 1)},
		"index with config":       {manifest.MediaTypeImageIndex, `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + string(configDigest) + `","size":2},"manifests":[]}`},
		"subject without digest":  {manifest.MediaTypeImageManifest, image(`,"subject":{"mediaType":"a/b","size":1}`)},
		"descriptor without type": {manifest.MediaTypeImageManifest, strings.Replace(image(""), `"mediaType":"application/vnd.normreg.weights.v1.safetensors",`, "", 1)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := manifest.Parse(c.contentType, []byte(c.body))
			if !errors.Is(err, manifest.ErrManifestInvalid) {
				t.Fatalf("got %v, want ErrManifestInvalid", err)
			}
		})
	}
}

func TestParseSizeCap(t *testing.T) {
	body := image(`,"annotations":{"pad":"` + strings.Repeat("x", manifest.MaxSize) + `"}`)
	_, err := manifest.Parse(manifest.MediaTypeImageManifest, []byte(body))
	if !errors.Is(err, manifest.ErrManifestTooLarge) || !errors.Is(err, manifest.ErrManifestInvalid) {
		t.Fatalf("got %v, want ErrManifestTooLarge wrapping ErrManifestInvalid", err)
	}
}

func TestReferrerArtifactType(t *testing.T) {
	m, err := manifest.Parse("", []byte(image(`,"annotations":{"k":"v"}`)))
	if err != nil {
		t.Fatal(err)
	}
	d := artifact.FromBytes(artifact.SHA256, []byte("x"))
	ref := m.Referrer(d, 42)
	if ref.ArtifactType != "application/vnd.normreg.config.v1+json" || ref.Size != 42 || ref.Digest != d || ref.Annotations["k"] != "v" {
		t.Fatalf("referrer %+v: want the config media type as artifactType", ref)
	}
	m.ArtifactType = "application/vnd.normreg.bundle.v1"
	if got := m.Referrer(d, 42).ArtifactType; got != m.ArtifactType {
		t.Fatalf("artifactType %q, want the manifest's own %q", got, m.ArtifactType)
	}
}
