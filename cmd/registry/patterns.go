package main

import (
	"fmt"
	"strings"

	"github.com/normreg/normreg/api"
)

// patternList is a comma-separated list of patterns ("*" matches any run
// of characters), as --require-bundles and --immutable-tags take them.
// Setting it replaces the list, so a flag overrides its environment variable.
type patternList []string

// String implements flag.Value.
func (p *patternList) String() string { return strings.Join(*p, ",") }

// Set implements flag.Value: it replaces the list with splitPatterns(v).
func (p *patternList) Set(v string) error {
	*p = splitPatterns(v)
	return nil
}

// splitPatterns splits v at commas and drops empty entries.
func splitPatterns(v string) patternList {
	var list patternList
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	return list
}

// setFromEnv sets each pattern list from its environment variable, when set.
func setFromEnv(getenv func(string) string, lists map[string]*patternList) {
	for name, list := range lists {
		if v := getenv(name); v != "" {
			*list = splitPatterns(v)
		}
	}
}

// validatePatterns refuses a --require-bundles or --immutable-tags pattern
// that could never match.
func (cfg config) validatePatterns() error {
	if err := api.ValidateRepositoryPatterns(cfg.requireBundles); err != nil {
		return fmt.Errorf("--require-bundles: %w", err)
	}
	if err := api.ValidateTagPatterns(cfg.immutableTags); err != nil {
		return fmt.Errorf("--immutable-tags: %w", err)
	}
	return nil
}
