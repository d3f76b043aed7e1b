package artifact

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// stTensor is a tensor a test writes into a safetensors file.
type stTensor struct {
	name  string
	dtype DType
	shape []int64
	data  []byte
}

// safetensorsFile lays out header JSON and data the way the format does:
// 8-byte little-endian length, header, buffer.
func safetensorsFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

// buildSafetensors writes tensors back to back in the given order, with meta
// as __metadata__ when non-nil.
func buildSafetensors(t testing.TB, meta map[string]string, tensors ...stTensor) []byte {
	t.Helper()
	hdr := map[string]any{}
	if meta != nil {
		hdr["__metadata__"] = meta
	}
	var data []byte
	for _, x := range tensors {
		hdr[x.name] = map[string]any{"dtype": x.dtype, "shape": x.shape, "data_offsets": []int{len(data), len(data) + len(x.data)}}
		data = append(data, x.data...)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	return safetensorsFile(string(js), data)
}

// f32 encodes values as little-endian float32.
func f32(vals ...float64) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	}
	return b
}

// f64 encodes values as little-endian float64.
func f64(vals ...float64) []byte {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

// i64 encodes values as little-endian int64.
func i64(vals ...int64) []byte {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

func TestReadSafetensorsHeader(t *testing.T) {
	header := `{"b":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]},` +
		`"__metadata__":{"format":"pt","normreg.mode":"eval"},` +
		`"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
		`"empty":{"dtype":"F16","shape":[0,4],"data_offsets":[32,32]}}    `
	data := append(i64(7), f32(1, 2, 3, 4, 5, 6)...)
	file := safetensorsFile(header, data)
	r := bytes.NewReader(file)
	h, err := ReadSafetensorsHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range h.Tensors {
		names = append(names, x.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,empty" {
		t.Errorf("tensor order %s, want a,b,empty", got)
	}
	if h.DataStart != int64(8+len(header)) || h.DataSize != 32 || h.FileSize() != int64(len(file)) {
		t.Errorf("DataStart %d DataSize %d FileSize %d, want %d 32 %d", h.DataStart, h.DataSize, h.FileSize(), 8+len(header), len(file))
	}
	if h.Metadata["normreg.mode"] != "eval" || len(h.Metadata) != 2 {
		t.Errorf("metadata %v", h.Metadata)
	}
	if b, ok := h.Tensor("b"); !ok || b.DType != "F32" || b.Bytes() != 24 {
		t.Errorf("Tensor(b) = %+v, %v", b, ok)
	}
	if _, ok := h.Tensor("nope"); ok {
		t.Error("Tensor(nope) found")
	}
	if r.Len() != len(data) {
		t.Errorf("reader left %d bytes unread, want the %d data bytes", r.Len(), len(data))
	}
}

func TestSafetensorsAxisSize(t *testing.T) {
	h, err := ReadSafetensorsHeader(bytes.NewReader(buildSafetensors(t, nil, stTensor{"w", "F32", []int64{4, 3}, f32(make([]float64, 12)...)})))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		axis    int
		want    int64
		wantErr string
	}{
		{"w", 0, 4, ""},
		{"w", 1, 3, ""},
		{"w", 2, 0, "no axis 2"},
		{"w", -1, 0, "no axis -1"},
		{"x", 0, 0, `no tensor "x"`},
	}
	for _, tt := range tests {
		got, err := h.AxisSize(tt.name, tt.axis)
		if tt.wantErr == "" && (err != nil || got != tt.want) {
			t.Errorf("AxisSize(%s, %d) = %d, %v; want %d", tt.name, tt.axis, got, err, tt.want)
		}
		if tt.wantErr != "" && (err == nil || !errors.Is(err, ErrInvalidSafetensors) || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("AxisSize(%s, %d) error %v, want %q", tt.name, tt.axis, err, tt.wantErr)
		}
	}
}

func TestReadSafetensorsHeaderNullMetadata(t *testing.T) {
	h, err := ReadSafetensorsHeader(bytes.NewReader(safetensorsFile(`{"__metadata__":null}`, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata == nil || len(h.Tensors) != 0 || h.DataSize != 0 {
		t.Errorf("got %+v, want empty metadata map and no tensors", h)
	}
}

func TestReadSafetensorsHeaderInvalid(t *testing.T) {
	lengthOnly := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	tensor := func(dtype, shape, offsets string) string {
		return fmt.Sprintf(`{"t":{"dtype":%s,"shape":%s,"data_offsets":%s}}`, dtype, shape, offsets)
	}
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "8-byte header length"},
		{"short length", []byte{1, 2, 3}, "8-byte header length"},
		{"zero length", lengthOnly(0), "header length 0"},
		{"too long", lengthOnly(MaxSafetensorsHeader + 1), "header length 100000001"},
		{"truncated header", append(lengthOnly(100), `{"a":1}`...), "header length 100 but only 7 bytes follow"},
		{"not json", safetensorsFile(`{nope`, nil), "not a JSON object"},
		{"json array", safetensorsFile(`[1,2]`, nil), "not a JSON object"},
		{"metadata not strings", safetensorsFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
		{"entry not object", safetensorsFile(`{"t":5}`, nil), `tensor "t"`},
		{"unknown dtype", safetensorsFile(tensor(`"F128"`, `[1]`, `[0,16]`), make([]byte, 16)), `unknown dtype "F128"`},
		{"missing dtype", safetensorsFile(`{"t":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `unknown dtype ""`},
		{"one offset", safetensorsFile(tensor(`"F32"`, `[1]`, `[4]`), make([]byte, 4)), "data_offsets [4] must be [begin, end]"},
		{"end before begin", safetensorsFile(tensor(`"F32"`, `[1]`, `[8,4]`), make([]byte, 8)), "data_offsets [8 4]"},
		{"negative begin", safetensorsFile(tensor(`"F32"`, `[1]`, `[-4,0]`), nil), "data_offsets [-4 0]"},
		{"size mismatch", safetensorsFile(tensor(`"F32"`, `[2,3]`, `[0,20]`), make([]byte, 20)), "shape [2 3] of F32 needs 24 bytes, data_offsets [0, 20] give 20"},
		{"negative dim", safetensorsFile(tensor(`"F32"`, `[-1,3]`, `[0,0]`), nil), "negative dimension"},
		{"overflow", safetensorsFile(tensor(`"F64"`, `[4611686018427387904,4]`, `[0,0]`), nil), "overflows int64"},
		{"gap at start", safetensorsFile(tensor(`"F32"`, `[1]`, `[4,8]`), make([]byte, 8)), `gap: no tensor covers bytes [0, 4) before tensor "t"`},
		{"gap between", safetensorsFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}`, make([]byte, 5)), `bytes [2, 3) before tensor "b"`},
		{"duplicate tensor", safetensorsFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)), `the header names "a" twice`},
		{"duplicate metadata key", safetensorsFile(`{"__metadata__":{"normreg.mode":"eval","normreg.mode":"train"}}`, nil), `__metadata__ names "normreg.mode" twice`},
		{"overlap", safetensorsFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)), `tensor "b" [2, 4) overlaps tensor "a" ending at 4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSafetensorsHeader(bytes.NewReader(tt.file))
			if !errors.Is(err, ErrInvalidSafetensors) {
				t.Fatalf("error %v, want ErrInvalidSafetensors", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// mustHeader reads the header of file, returning it and a reader at the data buffer.
func mustHeader(t *testing.T, file []byte) (*SafetensorsHeader, *bytes.Reader) {
	t.Helper()
	r := bytes.NewReader(file)
	h, err := ReadSafetensorsHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	return h, r
}

func TestReadTensors(t *testing.T) {
	file := buildSafetensors(t, nil,
		stTensor{"skip", "U8", []int64{100}, make([]byte, 100)},
		stTensor{"f32", "F32", []int64{3}, f32(1.5, -2, 0.25)},
		stTensor{"f64", "F64", []int64{2}, f64(math.Pi, -1e300)},
		stTensor{"f16", "F16", []int64{2}, []byte{0x00, 0x3c, 0x00, 0xc0}},   // 1, -2
		stTensor{"bf16", "BF16", []int64{2}, []byte{0x80, 0x3f, 0x40, 0xc0}}, // 1, -3
		stTensor{"i64", "I64", []int64{}, i64(-12345)},
		stTensor{"tail", "U8", []int64{1000}, make([]byte, 1000)},
	)
	want := map[string][]float64{
		"f32": {1.5, -2, 0.25}, "f64": {math.Pi, -1e300}, "f16": {1, -2}, "bf16": {1, -3}, "i64": {-12345},
	}
	wanted := func(name string) bool { _, ok := want[name]; return ok }
	check := func(t *testing.T, got map[string][]float64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	t.Run("stream", func(t *testing.T) {
		cr := &CountingReader{R: bytes.NewReader(file)}
		h, err := ReadSafetensorsHeader(cr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadTensors(h, cr, wanted)
		check(t, got, err)
		if tail, _ := h.Tensor("tail"); cr.N != h.DataStart+tail.Begin {
			t.Errorf("read %d bytes, want to stop at the tail tensor, byte %d", cr.N, h.DataStart+tail.Begin)
		}
	})
	t.Run("readerAt", func(t *testing.T) {
		h, _ := mustHeader(t, file)
		got, err := ReadTensorsAt(h, bytes.NewReader(file), wanted)
		check(t, got, err)
	})
}

func TestReadTensorsErrors(t *testing.T) {
	full := buildSafetensors(t, nil, stTensor{"u8", "U8", []int64{4}, []byte{1, 2, 3, 4}}, stTensor{"f", "F32", []int64{2}, f32(1, 2)})
	huge := safetensorsFile(`{"big":{"dtype":"F32","shape":[100000000],"data_offsets":[0,400000000]}}`, nil)
	tests := []struct {
		name   string
		file   []byte
		wanted string
		want   string
		target error
	}{
		{"unsupported dtype", full, "u8", `tensor "u8" is U8`, ErrUnsupportedDType},
		{"truncated", full[:len(full)-3], "f", `data ends before tensor "f" [4, 12)`, io.ErrUnexpectedEOF},
		{"too big", huge, "big", "more than the 67108864 read whole", ErrInvalidSafetensors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, r := mustHeader(t, tt.file)
			want := func(name string) bool { return name == tt.wanted }
			_, errStream := ReadTensors(h, r, want)
			_, errAt := ReadTensorsAt(h, bytes.NewReader(tt.file), want)
			for _, err := range []error{errStream, errAt} {
				if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %v saying %q", err, tt.target, tt.want)
				}
			}
		})
	}
}

func TestHalfToFloat(t *testing.T) {
	tests := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125},
		{0x7bff, 65504}, {0x0001, math.Ldexp(1, -24)}, {0x0400, math.Ldexp(1, -14)},
		{0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	}
	for _, tt := range tests {
		if got := halfToFloat(tt.bits); got != tt.want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(got) {
		t.Errorf("halfToFloat(0x7e00) = %v, want NaN", got)
	}
	if got := halfToFloat(0x8000); got != 0 || !math.Signbit(got) {
		t.Errorf("halfToFloat(0x8000) = %v, want -0", got)
	}
}

// FuzzReadSafetensorsHeader checks that the parser never panics and that
// every header it accepts tiles its buffer.
func FuzzReadSafetensorsHeader(f *testing.F) {
	f.Add(buildSafetensors(f, map[string]string{"k": "v"}, stTensor{"a", "F32", []int64{2}, f32(1, 2)}, stTensor{"b", "I64", nil, i64(3)}))
	f.Add(safetensorsFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, nil))
	f.Add(safetensorsFile(`{"t":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, file []byte) {
		h, err := ReadSafetensorsHeader(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrInvalidSafetensors) {
				t.Fatalf("error %v does not wrap ErrInvalidSafetensors", err)
			}
			return
		}
		var end int64
		for _, x := range h.Tensors {
			if x.Begin != end {
				t.Fatalf("accepted header does not tile: %+v at %d", x, end)
			}
			end = x.End
		}
		if end != h.DataSize {
			t.Fatalf("DataSize %d, tensors end at %d", h.DataSize, end)
		}
		small := func(name string) bool { x, _ := h.Tensor(name); return x.Bytes() < 1<<10 }
		_, _ = ReadTensors(h, bytes.NewReader(file[h.DataStart:]), small)
	})
}
