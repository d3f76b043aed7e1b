package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/normreg/normreg/artifact"
)

// printFindings writes one line per finding, for stderr.
func printFindings(w io.Writer, fs artifact.Findings) {
	for _, f := range fs {
		fmt.Fprintln(w, f.String())
	}
}

// verdict is the JSON regctl verify --json prints.
type verdict struct {
	Ref      string            `json:"ref"`
	Digest   artifact.Digest   `json:"digest"`
	Refused  bool              `json:"refused"`
	Findings artifact.Findings `json:"findings"`
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNilFindings makes an empty findings list encode as [] rather than null.
func nonNilFindings(fs artifact.Findings) artifact.Findings {
	if fs == nil {
		return artifact.Findings{}
	}
	return fs
}
