package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// Media types of the manifests a registry accepts.
const (
	MediaTypeImageManifest      = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex         = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxSize is the largest manifest, in bytes, the registry reads or accepts.
const MaxSize = 4 << 20

// Sentinel errors of OCI manifest parsing.
var (
	// ErrManifestInvalid: the bytes are not a valid manifest of a supported media type.
	ErrManifestInvalid = errors.New("manifest invalid")
	// ErrManifestTooLarge: the manifest is larger than MaxSize. It also wraps ErrManifestInvalid.
	ErrManifestTooLarge = fmt.Errorf("%w: larger than %d bytes", ErrManifestInvalid, MaxSize)
)

// Manifest is an OCI image manifest or image index (or their Docker schema 2
// equivalents), as far as a registry needs to understand one. Fields other
// than these are kept in the stored bytes untouched.
type Manifest struct {
	SchemaVersion int                   `json:"schemaVersion"`
	MediaType     string                `json:"mediaType,omitempty"`
	ArtifactType  string                `json:"artifactType,omitempty"`
	Config        *artifact.Descriptor  `json:"config,omitempty"`
	Layers        []artifact.Descriptor `json:"layers,omitempty"`
	Manifests     []artifact.Descriptor `json:"manifests,omitempty"`
	Subject       *artifact.Descriptor  `json:"subject,omitempty"`
	Annotations   map[string]string     `json:"annotations,omitempty"`
}

// Parse decodes and validates manifest bytes sent with the HTTP Content-Type
// contentType (parameters ignored; "" when absent). The body's mediaType, when
// present, must agree with contentType; the resolved media type is stored in
// MediaType. Every error wraps ErrManifestInvalid (ErrManifestTooLarge for
// data over MaxSize).
func Parse(contentType string, data []byte) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrManifestTooLarge, len(data))
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifestInvalid, err)
	}
	if err := m.resolveMediaType(contentType); err != nil {
		return nil, err
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: schemaVersion is %d, want 2", ErrManifestInvalid, m.SchemaVersion)
	}
	if m.IsIndex() {
		return &m, m.validateIndex()
	}
	return &m, m.validateImage()
}

// resolveMediaType settles m.MediaType from the body and the Content-Type.
func (m *Manifest) resolveMediaType(contentType string) error {
	ct := ""
	if contentType != "" {
		parsed, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return fmt.Errorf("%w: Content-Type %q: %w", ErrManifestInvalid, contentType, err)
		}
		ct = parsed
	}
	switch {
	case m.MediaType != "" && ct != "" && m.MediaType != ct:
		return fmt.Errorf("%w: Content-Type %q disagrees with the body's mediaType %q", ErrManifestInvalid, ct, m.MediaType)
	case m.MediaType == "":
		m.MediaType = ct
	}
	switch {
	case IsManifestMediaType(m.MediaType):
		return nil
	case m.MediaType == "":
		return fmt.Errorf("%w: neither the body nor the Content-Type names a media type", ErrManifestInvalid)
	}
	return fmt.Errorf("%w: unsupported media type %q", ErrManifestInvalid, m.MediaType)
}

// IsManifestMediaType reports whether mediaType names a manifest (OCI image
// manifest or index, Docker manifest or manifest list) rather than a blob.
func IsManifestMediaType(mediaType string) bool {
	switch mediaType {
	case MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

// IsIndex reports whether m lists other manifests (OCI index or Docker manifest list).
func (m *Manifest) IsIndex() bool {
	return m.MediaType == MediaTypeImageIndex || m.MediaType == MediaTypeDockerManifestList
}

// validateImage checks an image manifest's config, layers and subject.
func (m *Manifest) validateImage() error {
	if m.Config == nil {
		return fmt.Errorf("%w: image manifest without config", ErrManifestInvalid)
	}
	if m.Manifests != nil {
		return fmt.Errorf("%w: image manifest with a manifests list", ErrManifestInvalid)
	}
	return validateAll("layers", append([]artifact.Descriptor{*m.Config}, m.Layers...), m.Subject)
}

// validateIndex checks an index's manifests and subject.
func (m *Manifest) validateIndex() error {
	if m.Config != nil || m.Layers != nil {
		return fmt.Errorf("%w: index with config or layers", ErrManifestInvalid)
	}
	return validateAll("manifests", m.Manifests, m.Subject)
}

// validateAll validates descs and subject (when present), naming the field in errors.
func validateAll(field string, descs []artifact.Descriptor, subject *artifact.Descriptor) error {
	for i, d := range descs {
		if err := ValidateDescriptor(d); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
	}
	if subject == nil {
		return nil
	}
	if err := ValidateDescriptor(*subject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	return nil
}

// ValidateDescriptor checks that d has a media type, a supported digest and a
// non-negative size, and that embedded data (if any) matches both. Errors wrap
// ErrManifestInvalid.
func ValidateDescriptor(d artifact.Descriptor) error {
	if d.MediaType == "" {
		return fmt.Errorf("%w: descriptor %s without mediaType", ErrManifestInvalid, d.Digest)
	}
	if _, err := artifact.ParseDigest(string(d.Digest)); err != nil {
		return fmt.Errorf("%w: %w", ErrManifestInvalid, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: descriptor %s has negative size %d", ErrManifestInvalid, d.Digest, d.Size)
	}
	if d.Data != nil && (int64(len(d.Data)) != d.Size || artifact.FromBytes(d.Digest.Algorithm(), d.Data) != d.Digest) {
		return fmt.Errorf("%w: descriptor %s: embedded data does not match its digest and size", ErrManifestInvalid, d.Digest)
	}
	return nil
}

// Blobs returns the descriptors of an image manifest whose blobs the registry
// must hold: the config and every distributable layer. Layers that are
// non-distributable (their media type says so, or they carry URLs) are left
// out; they live elsewhere. An index has none.
func (m *Manifest) Blobs() []artifact.Descriptor {
	if m.IsIndex() {
		return nil
	}
	blobs := []artifact.Descriptor{*m.Config}
	for _, l := range m.Layers {
		if len(l.URLs) == 0 && !isForeign(l.MediaType) {
			blobs = append(blobs, l)
		}
	}
	return blobs
}

// isForeign reports whether a layer media type is non-distributable.
func isForeign(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || strings.Contains(mediaType, ".foreign.")
}

// Referrer returns the descriptor under which m, stored as digest d with size
// bytes, is listed among its subject's referrers: artifactType is m's
// artifactType, or, for an image manifest without one, its config's media type.
func (m *Manifest) Referrer(d artifact.Digest, size int64) artifact.Descriptor {
	at := m.ArtifactType
	if at == "" && m.Config != nil {
		at = m.Config.MediaType
	}
	return artifact.Descriptor{MediaType: m.MediaType, Digest: d, Size: size, ArtifactType: at, Annotations: m.Annotations}
}
