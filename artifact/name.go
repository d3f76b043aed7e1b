package artifact

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrInvalidName: a repository name or tag does not follow the OCI
// distribution spec's grammar.
var (
	ErrInvalidName = errors.New("invalid repository name")
	ErrInvalidTag  = errors.New("invalid tag")
)

// MaxNameLength bounds a repository name, as CNCF distribution does.
const MaxNameLength = 255

var (
	// nameGrammar is the distribution spec's <name> pattern.
	nameGrammar = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	// tagGrammar is the distribution spec's <reference> pattern for tags.
	tagGrammar = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidateRepository returns an error wrapping ErrInvalidName unless name is a
// valid repository name such as "team/model".
func ValidateRepository(name string) error {
	if len(name) > MaxNameLength {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidName, len(name), MaxNameLength)
	}
	if !nameGrammar.MatchString(name) {
		return fmt.Errorf("%w: %q must be lower-case path components of [a-z0-9] joined by '.', '_', '__' or '-', separated by '/'", ErrInvalidName, name)
	}
	return nil
}

// ValidateTag returns an error wrapping ErrInvalidTag unless tag is valid.
func ValidateTag(tag string) error {
	if !tagGrammar.MatchString(tag) {
		return fmt.Errorf("%w: %q must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", ErrInvalidTag, tag)
	}
	return nil
}
