package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// bundleFiles are the inputs of one bench bundle.
type bundleFiles struct {
	weights, scaler, scaler2 string
	size                     int64 // bytes of the weights file
}

// pushArgs are regctl push's flags for the bundle with the given scaler file.
func (b bundleFiles) pushArgs(scaler string) []string {
	return []string{"--weights", b.weights, "--scaler", scaler, "--mode", "eval"}
}

// gen writes a bench bundle (weights.safetensors, scaler.json, scaler2.json) into -o.
func gen(args []string) error {
	fl := flag.NewFlagSet("gen", flag.ContinueOnError)
	root := fl.String("root", ".", "the normreg checkout")
	size := fl.String("size", "1GiB", "weights size")
	out := fl.String("o", "", "directory to write into")
	if err := fl.Parse(args); err != nil {
		return err
	}
	sizes, err := parseSizes(*size)
	if err != nil || len(sizes) != 1 || *out == "" {
		return fmt.Errorf("usage: normreg-bench gen -size SIZE -o DIR")
	}
	_, err = genBundle(*root, *out, sizes[0], uint64(sizes[0]))
	return err
}

// scratchBundle writes a bench bundle (genBundle, size and seed) into the
// scratch directory "in", which remove deletes (also after an error).
func (b *bench) scratchBundle(size int64, seed uint64) (f bundleFiles, remove func(), err error) {
	dir := filepath.Join(b.work, "in")
	f, err = genBundle(b.root, dir, size, seed)
	return f, func() { os.RemoveAll(dir) }, err
}

// fixtureDir holds the PyTorch-written MLP the bench bundles grow from.
const fixtureDir = "testdata/interop/mlp"

// genBundle writes into dir a weights file of about size bytes: the MLP
// fixture's tensors plus one random U8 padding tensor, with the scaler
// binding dropped from the metadata (so a second scaler, scaler2, a refit
// with another mean, makes a valid second version), and both scalers.
func genBundle(root, dir string, size int64, seed uint64) (bundleFiles, error) {
	b := bundleFiles{weights: filepath.Join(dir, "weights.safetensors"),
		scaler: filepath.Join(dir, "scaler.json"), scaler2: filepath.Join(dir, "scaler2.json")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return b, err
	}
	header, data, err := readSafetensors(filepath.Join(root, fixtureDir, "weights.safetensors"))
	if err != nil {
		return b, err
	}
	pad := max(size-int64(len(data))-4096, 0)
	var meta map[string]string
	if err := json.Unmarshal(header["__metadata__"], &meta); err != nil {
		return b, fmt.Errorf("fixture metadata: %w", err)
	}
	delete(meta, "normreg.scaler.sha256")
	header["__metadata__"], _ = json.Marshal(meta)
	header["bench.pad"], _ = json.Marshal(map[string]any{
		"dtype": "U8", "shape": []int64{pad}, "data_offsets": []int64{int64(len(data)), int64(len(data)) + pad}})
	if b.size, err = writeSafetensors(b.weights, header, data, pad, seed); err != nil {
		return b, err
	}
	return b, writeScalers(filepath.Join(root, fixtureDir, "scaler.json"), b)
}

// readSafetensors returns the header entries and the data buffer of a small safetensors file.
func readSafetensors(path string) (map[string]json.RawMessage, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	n := binary.LittleEndian.Uint64(raw)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return header, raw[8+n:], nil
}

// writeSafetensors writes header, data and pad random bytes to path and returns the file's size.
func writeSafetensors(path string, header map[string]json.RawMessage, data []byte, pad int64, seed uint64) (int64, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	binary.Write(w, binary.LittleEndian, uint64(len(h)))
	w.Write(h)
	w.Write(data)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0xbe})
	if _, err := io.CopyN(w, rng, pad); err != nil {
		f.Close()
		return 0, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return 8 + int64(len(h)) + int64(len(data)) + pad, f.Close()
}

// writeScalers copies the fixture's scaler and writes a refit of it whose
// first mean differs (same features, still valid).
func writeScalers(fixture string, b bundleFiles) error {
	raw, err := os.ReadFile(fixture)
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.scaler, raw, 0o644); err != nil {
		return err
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", fixture, err)
	}
	mean, ok := s["mean_"].([]any)
	if !ok || len(mean) == 0 {
		return fmt.Errorf("%s: no mean_", fixture)
	}
	mean[0] = mean[0].(float64) + 0.5
	out, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(b.scaler2, out, 0o644)
}
