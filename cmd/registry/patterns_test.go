package main

import (
	"io"
	"slices"
	"testing"
)

// TestPatternFlags: --require-bundles and --immutable-tags come from the
// environment unless the flag is given, split at commas; a
// pattern that could never match stops start-up.
func TestPatternFlags(t *testing.T) {
	env := map[string]string{"REGISTRY_REQUIRE_BUNDLES": "prod/*, team/*-staging", "REGISTRY_IMMUTABLE_TAGS": "v*"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig([]string{"--immutable-tags", "release-*,stable"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.requireBundles, []string{"prod/*", "team/*-staging"}) || !slices.Equal(cfg.immutableTags, []string{"release-*", "stable"}) {
		t.Fatalf("require-bundles %q, immutable-tags %q", cfg.requireBundles, cfg.immutableTags)
	}
	if _, err := parseConfig([]string{"--immutable-tags", "v["}, getenv, io.Discard); err == nil {
		t.Error("--immutable-tags v[ accepted")
	}
	env["REGISTRY_REQUIRE_BUNDLES"] = "[x"
	if _, err := parseConfig(nil, getenv, io.Discard); err == nil {
		t.Error("REGISTRY_REQUIRE_BUNDLES=[x accepted")
	}
}
