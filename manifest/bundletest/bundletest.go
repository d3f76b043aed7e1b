// Package bundletest writes small safetensors weights and scikit-learn scaler
// JSON for tests, the way PyTorch and scikit-learn lay them out.
package bundletest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/normreg/normreg/artifact"
)

// Tensor is one tensor to write. Values are converted to DType ("F32",
// "F64" or "I64"); their count must equal the product of Shape.
type Tensor struct {
	Name   string
	DType  string
	Shape  []int64
	Values []float64
}

// encoders write one value in a dtype, little-endian.
var encoders = map[string]func([]byte, float64) []byte{
	"F32": func(b []byte, v float64) []byte {
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
	},
	"F64": func(b []byte, v float64) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) },
	"I64": func(b []byte, v float64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(int64(v))) },
}

// Safetensors returns a safetensors file holding the tensors in the given
// order, with metadata as __metadata__ (omitted when nil). It panics on a
// dtype it cannot write: the inputs are a test's literals.
func Safetensors(metadata map[string]string, tensors ...Tensor) []byte {
	header := map[string]any{}
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var data []byte
	for _, t := range tensors {
		enc, ok := encoders[t.DType]
		if !ok {
			panic(fmt.Sprintf("bundletest: cannot write dtype %q", t.DType))
		}
		begin := len(data)
		for _, v := range t.Values {
			data = enc(data, v)
		}
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": t.Shape, "data_offsets": []int{begin, len(data)}}
	}
	js, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	return append(append(out, js...), data...)
}

// Linear returns a Linear layer's weight [out, in] and bias [out], filled
// with small distinct values.
func Linear(name string, out, in int) []Tensor {
	return []Tensor{
		{Name: name + ".weight", DType: "F32", Shape: []int64{int64(out), int64(in)}, Values: ramp(out*in, 0.01)},
		{Name: name + ".bias", DType: "F32", Shape: []int64{int64(out)}, Values: ramp(out, 0.1)},
	}
}

// BatchNorm returns a PyTorch BatchNorm layer's tensors, in state_dict
// order: weight, bias, running_mean, running_var (F32) and
// num_batches_tracked (I64 scalar).
func BatchNorm(name string, mean, variance []float64, tracked int64) []Tensor {
	c := int64(len(mean))
	return []Tensor{
		{Name: name + ".weight", DType: "F32", Shape: []int64{c}, Values: ramp(len(mean), 1)},
		{Name: name + ".bias", DType: "F32", Shape: []int64{c}, Values: ramp(len(mean), 0)},
		{Name: name + ".running_mean", DType: "F32", Shape: []int64{c}, Values: mean},
		{Name: name + ".running_var", DType: "F32", Shape: []int64{int64(len(variance))}, Values: variance},
		{Name: name + ".num_batches_tracked", DType: "I64", Shape: []int64{}, Values: []float64{float64(tracked)}},
	}
}

// ramp returns n values start, start+0.25, start+0.5, ...
func ramp(n int, start float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = start + 0.25*float64(i)
	}
	return v
}

// Scaler returns the JSON scikit-learn's StandardScaler attributes are
// written as (json.dump of mean_, scale_, var_, ...), with scale_ =
// sqrt(var_) and 1 where var_ is 0.
func Scaler(features []string, mean, variance []float64, samples int) []byte {
	scale := make([]float64, len(variance))
	for i, v := range variance {
		scale[i] = math.Sqrt(v)
		if v == 0 {
			scale[i] = 1
		}
	}
	js, err := json.Marshal(map[string]any{
		"mean_": mean, "scale_": scale, "var_": variance,
		"n_samples_seen_": samples, "n_features_in_": len(features),
		"feature_names_in_": features, "with_mean": true, "with_std": true,
	})
	if err != nil {
		panic(err)
	}
	return js
}

// FetcherFunc adapts a function to manifest.Fetcher (and any interface with
// the same Fetch method), for tests that serve or tamper with content.
type FetcherFunc func(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error) {
	return f(ctx, desc, offset, length)
}
