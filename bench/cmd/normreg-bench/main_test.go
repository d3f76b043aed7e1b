package main

import (
	"context"
	"errors"
	"flag"
	"testing"
)

// TestHelp: --help lists the subcommands and succeeds; a subcommand's -h
// ends with flag.ErrHelp (main exits 0 on it), not an error of its own.
func TestHelp(t *testing.T) {
	if err := dispatch(context.Background(), []string{"--help"}); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if err := dispatch(context.Background(), []string{"gen", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("gen -h: %v, want flag.ErrHelp", err)
	}
	if err := dispatch(context.Background(), []string{"nonsense"}); err == nil {
		t.Fatal("an unknown subcommand succeeded")
	}
}
