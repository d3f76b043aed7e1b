package artifact

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrUnsupportedDType: a tensor's values were asked for in a dtype the
// readers do not decode.
var ErrUnsupportedDType = errors.New("unsupported dtype for reading values")

// decoders turn one little-endian element into a float64, for the dtypes
// whose values the checks read.
var decoders = map[DType]func([]byte) float64{
	"F64": func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) },
	"F32": func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) },
	"BF16": func(b []byte) float64 {
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	},
	"F16": func(b []byte) float64 { return halfToFloat(binary.LittleEndian.Uint16(b)) },
	"I64": func(b []byte) float64 { return float64(int64(binary.LittleEndian.Uint64(b))) },
}

// ReadTensors reads the values of the tensors for which want returns true
// from r, a sequential stream positioned at the start of the data buffer (as
// ReadSafetensorsHeader leaves it). Other tensors are skipped without being
// held in memory, and reading stops after the last wanted tensor. Wanted
// tensors must be F64, F32, BF16, F16 or I64 and at most MaxTensorRead bytes.
func ReadTensors(h *SafetensorsHeader, r io.Reader, want func(name string) bool) (map[string][]float64, error) {
	var pos int64
	return collectTensors(h, want, func(t TensorInfo, buf []byte) error {
		if _, err := io.CopyN(io.Discard, r, t.Begin-pos); err != nil {
			return err
		}
		_, err := io.ReadFull(r, buf)
		pos = t.End
		return err
	})
}

// ReadTensorsAt is ReadTensors over random access: ra holds the whole file
// (header included) and only the wanted tensors' byte ranges are read.
func ReadTensorsAt(h *SafetensorsHeader, ra io.ReaderAt, want func(name string) bool) (map[string][]float64, error) {
	return collectTensors(h, want, func(t TensorInfo, buf []byte) error {
		n, err := ra.ReadAt(buf, h.DataStart+t.Begin)
		if n == len(buf) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
}

// collectTensors decodes every wanted tensor, in offset order, from the
// bytes read fills in.
func collectTensors(h *SafetensorsHeader, want func(string) bool, read func(TensorInfo, []byte) error) (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, t := range h.Tensors {
		if !want(t.Name) {
			continue
		}
		dec, ok := decoders[t.DType]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q is %s", ErrUnsupportedDType, t.Name, t.DType)
		}
		if t.Bytes() > MaxTensorRead {
			return nil, fmt.Errorf("%w: tensor %q has %d bytes, more than the %d read whole", ErrInvalidSafetensors, t.Name, t.Bytes(), MaxTensorRead)
		}
		buf := make([]byte, t.Bytes())
		if err := read(t, buf); err != nil {
			return nil, fmt.Errorf("%w: data ends before tensor %q [%d, %d) of a %d-byte buffer: %w", ErrInvalidSafetensors, t.Name, t.Begin, t.End, h.DataSize, err)
		}
		out[t.Name] = decodeAll(buf, t.DType.Size(), dec)
	}
	return out, nil
}

// decodeAll decodes consecutive elements of size bytes each.
func decodeAll(buf []byte, size int64, dec func([]byte) float64) []float64 {
	vals := make([]float64, int64(len(buf))/size)
	for i := range vals {
		vals[i] = dec(buf[int64(i)*size:])
	}
	return vals
}

// halfToFloat converts an IEEE 754 binary16 value to float64.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0: // zero and subnormals
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}
