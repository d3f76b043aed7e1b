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

// Set implements flag.Value: it splits v at commas and drops empty entries.
func (p *patternList) Set(v string) error {
	var list []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	*p = list
	return nil
}

// setFromEnv sets each pattern list from its environment variable, when set.
func setFromEnv(getenv func(string) string, lists map[string]*patternList) error {
	for name, list := range lists {
		if v := getenv(name); v != "" {
			if err := list.Set(v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
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
