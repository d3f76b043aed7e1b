package main

import (
	"fmt"
	"strings"

	"github.com/normreg/normreg/api"
)

// patternList is a comma-separated list of glob patterns (path.Match
// syntax), as --require-bundles and --immutable-tags take them. Setting it
// replaces the list, so a flag overrides its environment variable.
type patternList []string

// String implements flag.Value.
func (p *patternList) String() string { return strings.Join(*p, ",") }

// Set implements flag.Value: it splits v at commas, drops empty entries and
// refuses a malformed pattern.
func (p *patternList) Set(v string) error {
	var list []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	if err := api.ValidatePatterns(list); err != nil {
		return err
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
