package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// labelFlag collects repeated --label k=v flags.
type labelFlag map[string]string

// String implements flag.Value.
func (l labelFlag) String() string { return fmt.Sprint(map[string]string(l)) }

// Set implements flag.Value.
func (l labelFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q is not key=value", v)
	}
	if old, dup := l[k]; dup {
		return fmt.Errorf("label %q given twice (%s=%s and %s)", k, k, old, v)
	}
	l[k] = val
	return nil
}

// readFeatureFile reads a feature list file: names one a line or
// comma-separated (or both); blank lines are ignored. "" gives nil.
func readFeatureFile(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError("--features: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, strings.TrimSuffix(line, ","))
		}
	}
	features, err := artifact.ParseFeatureList(strings.Join(names, ","))
	if err != nil {
		return nil, usageError("--features %s: %w", path, err)
	}
	return features, nil
}
