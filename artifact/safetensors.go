package artifact

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// ErrInvalidSafetensors: a weights file does not follow the safetensors format
// (header length, JSON header, dtypes, shapes, offsets tiling the data buffer).
var ErrInvalidSafetensors = errors.New("invalid safetensors")

// MaxSafetensorsHeader bounds the JSON header, as the reference implementation does.
const MaxSafetensorsHeader = 100_000_000

// MaxTensorRead bounds one tensor read whole by ReadTensors (BatchNorm
// statistics are a few KiB; weights are never read whole).
const MaxTensorRead = 64 << 20

// DType is a safetensors element type, e.g. "F32".
type DType string

// dtypeSizes holds the size in bytes of one element of every known dtype.
var dtypeSizes = map[DType]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"U16": 2, "I16": 2, "F16": 2, "BF16": 2,
	"U32": 4, "I32": 4, "F32": 4,
	"U64": 8, "I64": 8, "F64": 8,
}

// Size returns the size in bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int64 { return dtypeSizes[d] }

// TensorInfo is one tensor's entry in a safetensors header. Begin and End are
// byte offsets into the data buffer (End exclusive).
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int64
	Begin, End int64
}

// Bytes returns the tensor's size in bytes.
func (t TensorInfo) Bytes() int64 { return t.End - t.Begin }

// SafetensorsHeader is a validated safetensors header. Tensors are ordered by
// their offset in the data buffer; together they tile it exactly.
type SafetensorsHeader struct {
	Tensors   []TensorInfo
	Metadata  map[string]string // the __metadata__ map; empty when absent
	DataStart int64             // file offset of the data buffer: 8 + header length
	DataSize  int64             // length of the data buffer in bytes
	index     map[string]int
}

// FileSize returns the size in bytes a file with this header must have.
func (h *SafetensorsHeader) FileSize() int64 { return h.DataStart + h.DataSize }

// Tensor returns the named tensor's entry and whether it exists.
func (h *SafetensorsHeader) Tensor(name string) (TensorInfo, bool) {
	i, ok := h.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return h.Tensors[i], true
}

// AxisSize returns the size of axis of the named tensor. The error wraps
// ErrInvalidSafetensors when the tensor is absent or has no such axis.
func (h *SafetensorsHeader) AxisSize(name string, axis int) (int64, error) {
	t, ok := h.Tensor(name)
	if !ok {
		return 0, fmt.Errorf("%w: no tensor %q", ErrInvalidSafetensors, name)
	}
	if axis < 0 || axis >= len(t.Shape) {
		return 0, fmt.Errorf("%w: tensor %q has shape %v, no axis %d", ErrInvalidSafetensors, name, t.Shape, axis)
	}
	return t.Shape[axis], nil
}

// ReadSafetensorsHeader reads and validates the header of a safetensors file
// from r, leaving r positioned at the start of the data buffer. It never
// reads tensor data. Every error wraps ErrInvalidSafetensors (and the read
// error, if any) and names the offending tensor and numbers.
func ReadSafetensorsHeader(r io.Reader) (*SafetensorsHeader, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("%w: reading the 8-byte header length: %w", ErrInvalidSafetensors, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n == 0 || n > MaxSafetensorsHeader {
		return nil, fmt.Errorf("%w: header length %d, must be 1..%d", ErrInvalidSafetensors, n, MaxSafetensorsHeader)
	}
	buf := make([]byte, n)
	if got, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: header length %d but only %d bytes follow: %w", ErrInvalidSafetensors, n, got, err)
	}
	h, err := parseSafetensorsJSON(buf)
	if err != nil {
		return nil, err
	}
	h.DataStart = 8 + int64(n)
	return h, nil
}

// tensorEntry is a tensor's entry as it appears in the JSON header.
type tensorEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parseSafetensorsJSON decodes and validates the JSON header.
func parseSafetensorsJSON(buf []byte) (*SafetensorsHeader, error) {
	var raw map[string]json.RawMessage
	buf = bytes.TrimRight(buf, " ")
	if err := json.Unmarshal(buf, &raw); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object: %w", ErrInvalidSafetensors, err)
	}
	if k := duplicateKey(buf); k != "" {
		return nil, fmt.Errorf("%w: the header names %q twice", ErrInvalidSafetensors, k)
	}
	h := &SafetensorsHeader{Metadata: map[string]string{}, index: map[string]int{}}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %w", ErrInvalidSafetensors, err)
			}
			if k := duplicateKey(msg); k != "" {
				return nil, fmt.Errorf("%w: __metadata__ names %q twice", ErrInvalidSafetensors, k)
			}
			continue
		}
		t, err := parseTensorEntry(name, msg)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if h.Metadata == nil { // "__metadata__": null
		h.Metadata = map[string]string{}
	}
	if err := h.tile(); err != nil {
		return nil, err
	}
	return h, nil
}

// parseTensorEntry decodes one tensor's entry and checks its dtype, shape and size.
func parseTensorEntry(name string, msg json.RawMessage) (TensorInfo, error) {
	var e tensorEntry
	if err := json.Unmarshal(msg, &e); err != nil {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: %w", ErrInvalidSafetensors, name, err)
	}
	if e.DType.Size() == 0 {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrInvalidSafetensors, name, e.DType)
	}
	if len(e.DataOffsets) != 2 || e.DataOffsets[0] < 0 || e.DataOffsets[1] < e.DataOffsets[0] {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: data_offsets %v must be [begin, end] with 0 <= begin <= end", ErrInvalidSafetensors, name, e.DataOffsets)
	}
	t := TensorInfo{Name: name, DType: e.DType, Shape: e.Shape, Begin: e.DataOffsets[0], End: e.DataOffsets[1]}
	want, err := tensorBytes(t)
	if err != nil {
		return TensorInfo{}, err
	}
	if want != t.Bytes() {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] give %d", ErrInvalidSafetensors, name, t.Shape, t.DType, want, t.Begin, t.End, t.Bytes())
	}
	return t, nil
}

// tensorBytes returns product(shape) * dtype size, refusing negative
// dimensions and sizes that overflow int64.
func tensorBytes(t TensorInfo) (int64, error) {
	n := t.DType.Size()
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: tensor %q: negative dimension in shape %v", ErrInvalidSafetensors, t.Name, t.Shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("%w: tensor %q: shape %v overflows int64 bytes", ErrInvalidSafetensors, t.Name, t.Shape)
		}
		n *= d
	}
	return n, nil
}

// tile sorts the tensors by offset, checks that they cover the data buffer
// from 0 without gap or overlap, and sets DataSize and the name index.
func (h *SafetensorsHeader) tile() error {
	sort.Slice(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	var end int64
	for i, t := range h.Tensors {
		switch {
		case t.Begin > end:
			return fmt.Errorf("%w: gap: no tensor covers bytes [%d, %d) before tensor %q", ErrInvalidSafetensors, end, t.Begin, t.Name)
		case t.Begin < end:
			return fmt.Errorf("%w: tensor %q [%d, %d) overlaps tensor %q ending at %d", ErrInvalidSafetensors, t.Name, t.Begin, t.End, h.Tensors[i-1].Name, end)
		}
		end = t.End
		h.index[t.Name] = i
	}
	h.DataSize = end
	return nil
}
