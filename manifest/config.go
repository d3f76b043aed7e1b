package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest/bundlepb"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrInvalidBundle: a bundle's manifest, config or bnstats layer is not what
// a normreg bundle must be (wrong artifactType, unreadable config, ...).
var ErrInvalidBundle = errors.New("invalid bundle")

// MarshalConfig encodes c as the config blob: protojson, compacted. protojson
// writes fields in number order and map keys sorted; compacting removes the
// whitespace it varies on purpose, so the same config always gives the same
// bytes (and digest).
func MarshalConfig(c *bundlepb.BundleConfig) ([]byte, error) {
	b, err := protojson.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding bundle config: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("compacting bundle config: %w", err)
	}
	return out.Bytes(), nil
}

// ParseConfig decodes a config blob of at most MaxConfigSize bytes. Unknown
// fields (from a newer schema) are ignored. The error wraps ErrInvalidBundle.
func ParseConfig(b []byte) (*bundlepb.BundleConfig, error) {
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%w: config is %d bytes, more than %d", ErrInvalidBundle, len(b), MaxConfigSize)
	}
	c := &bundlepb.BundleConfig{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%w: config: %w", ErrInvalidBundle, err)
	}
	return c, nil
}

// modes maps the declared mode to the config's enum and back.
var modes = map[artifact.Mode]bundlepb.Mode{
	artifact.ModeUnset: bundlepb.Mode_MODE_UNSPECIFIED,
	artifact.ModeEval:  bundlepb.Mode_MODE_EVAL,
	artifact.ModeTrain: bundlepb.Mode_MODE_TRAIN,
}

// preprocessings maps the declared preprocessing to the config's enum and back.
var preprocessings = map[artifact.Preprocessing]bundlepb.PreprocessingKind{
	artifact.PreprocessingUnset:    bundlepb.PreprocessingKind_PREPROCESSING_KIND_UNSPECIFIED,
	artifact.PreprocessingStandard: bundlepb.PreprocessingKind_PREPROCESSING_KIND_STANDARD_SCALER,
	artifact.PreprocessingNone:     bundlepb.PreprocessingKind_PREPROCESSING_KIND_NONE,
}

// modeOf returns the artifact mode of a config enum; values this schema does
// not know read as unset.
func modeOf(m bundlepb.Mode) artifact.Mode {
	return reverse(modes)[m]
}

// preprocessingOf returns the artifact preprocessing of a config enum;
// values this schema does not know read as unset.
func preprocessingOf(k bundlepb.PreprocessingKind) artifact.Preprocessing {
	return reverse(preprocessings)[k]
}

// reverse inverts a one-to-one map.
func reverse[K, V comparable](m map[K]V) map[V]K {
	r := make(map[V]K, len(m))
	for k, v := range m {
		r[v] = k
	}
	return r
}
