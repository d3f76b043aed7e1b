package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// decodeFeatures reads a JSON object of a standardize request, a row or the
// columns, strictly, as the serving side's input must be exact: each key
// (feature name) once, where encoding/json keeps the last of a repeated
// key, and each value read with value, where encoding/json reads null as 0
// for a number. null is no object (nil).
func decodeFeatures[V any](b []byte, value func(json.RawMessage) (V, error)) (map[string]V, error) {
	if string(b) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("want an object of features")
	}
	out := map[string]V{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if _, twice := out[name]; twice {
			return nil, fmt.Errorf("feature %q appears twice", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if out[name], err = value(raw); err != nil {
			return nil, fmt.Errorf("feature %q: %w", name, err)
		}
	}
	return out, nil
}

// number reads a JSON number; null, strings and anything else are errors,
// and so is a number past float64's range (1e309).
func number(raw json.RawMessage) (float64, error) {
	f, err := strconv.ParseFloat(string(raw), 64) // a JSON number is Go syntax; null, true, "1" are not
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s is past float64's range", raw)
	case err != nil:
		return 0, fmt.Errorf("%s is not a number", raw)
	}
	return f, nil
}

// numbers reads a JSON array of numbers.
func numbers(raw json.RawMessage) ([]float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s is not an array of numbers", raw)
	}
	out := make([]float64, len(items))
	for i, item := range items {
		f, err := number(item)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		out[i] = f
	}
	return out, nil
}

// namedValues is a JSON object of keys[i] to values[i] written in the
// order of keys (encoding/json sorts a map's keys: a client that reads an
// answer's values in order would get the features alphabetically).
type namedValues[V any] struct {
	keys   [][]byte // JSON strings (jsonKeys)
	values []V
}

// jsonKeys returns names as JSON strings.
func jsonKeys(names []string) [][]byte {
	keys := make([][]byte, len(names))
	for i, name := range names {
		keys[i], _ = json.Marshal(name) // a string always encodes
	}
	return keys
}

// MarshalJSON implements json.Marshaler.
func (n namedValues[V]) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 32*len(n.keys)), '{')
	for i, k := range n.keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSON(append(append(b, k...), ':'), n.values[i]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendJSON appends v as JSON; a float64 (a row's value, the sidecar's
// hot path) without reflection, formatted as encoding/json formats it.
func appendJSON[V any](b []byte, v V) ([]byte, error) {
	f, ok := any(v).(float64)
	if !ok {
		j, err := json.Marshal(v)
		return append(b, j...), err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v is not a JSON number", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2], b = b[n-1], b[:n-1] // e-07 as e-7, as encoding/json writes it
	}
	return b, nil
}
