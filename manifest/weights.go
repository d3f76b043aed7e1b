package manifest

import (
	"errors"
	"fmt"
	"io"

	"github.com/normreg/normreg/artifact"
)

// weightsFacts is what a bundle's checks need from its weights: the header
// (tensor shapes and normreg.* metadata) and the BatchNorm statistics.
type weightsFacts struct {
	header *artifact.SafetensorsHeader
	bn     *artifact.BNStats
}

// readWeights reads the safetensors header and the BatchNorm tensors of a
// weights file of size bytes by ranged reads of ra; the rest of the file is
// never read. Errors wrap ErrInvalidBundle when the content is not valid
// safetensors of that size; a read of ra that failed (a *fetchError) is
// returned as it is.
func readWeights(ra io.ReaderAt, size int64) (*weightsFacts, error) {
	h, err := artifact.ReadSafetensorsHeader(io.NewSectionReader(ra, 0, size))
	if err != nil {
		return nil, invalidWeights(err)
	}
	if h.FileSize() != size {
		return nil, fmt.Errorf("%w: weights header describes %d bytes, the weights are %d", ErrInvalidBundle, h.FileSize(), size)
	}
	bn, err := artifact.ReadBNStatsAt(h, ra)
	if err != nil {
		return nil, invalidWeights(err)
	}
	return &weightsFacts{header: h, bn: bn}, nil
}

// invalidWeights is err, met reading the weights, as the error of
// readWeights: the *fetchError in its chain when a fetch failed, else err
// wrapping ErrInvalidBundle.
func invalidWeights(err error) error {
	if fe, ok := errors.AsType[*fetchError](err); ok {
		return fmt.Errorf("reading the weights: %w", fe)
	}
	return fmt.Errorf("%w: weights: %w", ErrInvalidBundle, err)
}
