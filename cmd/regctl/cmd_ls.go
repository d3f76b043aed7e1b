package main

import (
	"context"
	"fmt"
)

// lsOptions are ls's flags.
type lsOptions struct {
	g *globalOptions
}

func newLsCommand(g *globalOptions) *command {
	opts := lsOptions{g: g}
	return &command{
		name: "ls", usage: "ls [HOST]            lists the repositories, one a line",
		flags: g.newFlagSet("ls"),
		run:   func(ctx context.Context, args []string) error { return runLs(ctx, opts, args) },
	}
}

// runLs prints every repository of HOST (default $REGCTL_REGISTRY).
func runLs(ctx context.Context, opts lsOptions, args []string) error {
	host, err := opts.g.hostArg("ls", args)
	if err != nil {
		return err
	}
	c, err := opts.g.client(host)
	if err != nil {
		return err
	}
	repos, err := c.Catalog(ctx)
	if err != nil {
		return registryError(host, fmt.Errorf("listing repositories: %w", err))
	}
	for _, r := range repos {
		fmt.Fprintln(opts.g.stdout, r)
	}
	return nil
}
