package artifact

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidMetadata: a normreg.* key in the safetensors __metadata__ has a
// value that cannot be read.
var ErrInvalidMetadata = errors.New("invalid normreg weights metadata")

// The normreg keys a training pipeline may write into the safetensors __metadata__.
const (
	MetaMode         = "normreg.mode"          // "eval" or "train"
	MetaScalerSHA256 = "normreg.scaler.sha256" // hex sha256 of the scaler file
	MetaFeatures     = "normreg.features"      // comma-separated feature names, in order
	MetaInputTensor  = "normreg.input_tensor"  // tensor whose axis size is the feature count
	MetaBatchSize    = "normreg.batch_size"    // positive decimal integer
	MetaBNFrozen     = "normreg.bn_frozen"     // "true" or "false"
)

// WeightsMetadata is the normreg keys of a weights file's metadata, typed.
// A zero field (nil for BNFrozen) means the key is absent.
type WeightsMetadata struct {
	Mode         Mode
	ScalerSHA256 string // lower-case hex
	Features     []string
	InputTensor  string
	BatchSize    int
	BNFrozen     *bool
}

// metaParsers reads each normreg key into m.
var metaParsers = map[string]func(m *WeightsMetadata, v string) error{
	MetaMode:         parseMetaMode,
	MetaScalerSHA256: parseMetaSHA256,
	MetaFeatures:     parseMetaFeatures,
	MetaInputTensor:  parseMetaInputTensor,
	MetaBatchSize:    parseMetaBatchSize,
	MetaBNFrozen:     parseMetaBNFrozen,
}

// ParseWeightsMetadata reads the normreg keys of a safetensors __metadata__
// map; other keys are ignored. The error joins one error per malformed key,
// each wrapping ErrInvalidMetadata and naming the key and its value.
func ParseWeightsMetadata(md map[string]string) (*WeightsMetadata, error) {
	m := &WeightsMetadata{}
	var errs []error
	for _, key := range []string{MetaMode, MetaScalerSHA256, MetaFeatures, MetaInputTensor, MetaBatchSize, MetaBNFrozen} {
		v, ok := md[key]
		if !ok {
			continue
		}
		if err := metaParsers[key](m, v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q: %w", ErrInvalidMetadata, key, v, err))
		}
	}
	return m, errors.Join(errs...)
}

func parseMetaMode(m *WeightsMetadata, v string) error {
	if Mode(v) != ModeEval && Mode(v) != ModeTrain {
		return errors.New("must be eval or train")
	}
	m.Mode = Mode(v)
	return nil
}

func parseMetaSHA256(m *WeightsMetadata, v string) error {
	hex := strings.ToLower(v)
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return errors.New("must be 64 hex digits, the sha256 of the scaler file")
	}
	m.ScalerSHA256 = hex
	return nil
}

func parseMetaFeatures(m *WeightsMetadata, v string) error {
	names, err := ParseFeatureList(v)
	m.Features = names
	return err
}

func parseMetaInputTensor(m *WeightsMetadata, v string) error {
	if v == "" {
		return errors.New("must name a tensor")
	}
	m.InputTensor = v
	return nil
}

func parseMetaBatchSize(m *WeightsMetadata, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return errors.New("must be a positive integer")
	}
	m.BatchSize = n
	return nil
}

func parseMetaBNFrozen(m *WeightsMetadata, v string) error {
	if v != "true" && v != "false" {
		return errors.New("must be true or false")
	}
	frozen := v == "true"
	m.BNFrozen = &frozen
	return nil
}

// ParseFeatureList splits a comma-separated feature list, trimming spaces
// around names. A list without names, empty names and repeated names are
// errors. Positions in messages count from 0, as feature_names_in_ and
// tensor axes do.
func ParseFeatureList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("lists no feature names")
	}
	names := strings.Split(s, ",")
	seen := map[string]int{}
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("the feature at position %d (from 0) is empty", i)
		}
		if j, dup := seen[n]; dup {
			return nil, fmt.Errorf("feature %q is at positions %d and %d (from 0)", n, j, i)
		}
		seen[n] = i
		names[i] = n
	}
	return names, nil
}
