package api

import (
	"fmt"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// matchAny reports whether name matches one of the patterns, in the
// pattern language of auth scopes: "*" matches any run of characters, "/"
// included ("prod/*" matches prod/a and prod/a/b), every other character
// itself.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchPattern(p, name) {
			return true
		}
	}
	return false
}

// ValidateRepositoryPatterns checks --require-bundles patterns: with every
// "*" read as a letter, each must be a valid repository name, else it could
// never match one. The error names the pattern.
func ValidateRepositoryPatterns(patterns []string) error {
	return validatePatterns(patterns, artifact.ValidateRepository)
}

// ValidateTagPatterns checks --immutable-tags patterns as
// ValidateRepositoryPatterns does, against the tag grammar.
func ValidateTagPatterns(patterns []string) error {
	return validatePatterns(patterns, artifact.ValidateTag)
}

// validatePatterns checks each pattern, its "*"s read as "a", with valid.
func validatePatterns(patterns []string, valid func(string) error) error {
	for _, p := range patterns {
		if err := valid(strings.ReplaceAll(p, "*", "a")); err != nil {
			return fmt.Errorf("pattern %q can never match: %w", p, err)
		}
	}
	return nil
}

// matchPattern reports whether name matches pattern, where "*" matches any
// run of characters ("/" included) and every other character itself.
func matchPattern(pattern, name string) bool {
	prefix, rest, star := strings.Cut(pattern, "*")
	if !star {
		return pattern == name
	}
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	name = name[len(prefix):]
	for i := 0; i <= len(name); i++ {
		if matchPattern(rest, name[i:]) {
			return true
		}
	}
	return false
}
