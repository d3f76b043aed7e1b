package main

import (
	"context"
	"fmt"

	"github.com/normreg/normreg/artifact"
)

// tagOptions are tag's flags.
type tagOptions struct {
	g *globalOptions
}

func newTagCommand(g *globalOptions) *command {
	opts := tagOptions{g: g}
	return &command{
		name: "tag", usage: "tag REF TAG          points TAG at REF's manifest; prints its digest",
		flags: g.newFlagSet("tag"),
		run:   func(ctx context.Context, args []string) error { return runTag(ctx, opts, args) },
	}
}

// runTag points TAG, in REF's repository, at the manifest REF names.
func runTag(ctx context.Context, opts tagOptions, args []string) error {
	if err := wantArgs("tag", args, 2); err != nil {
		return err
	}
	if err := artifact.ValidateTag(args[1]); err != nil {
		return usageError("%w", err)
	}
	ref, c, err := opts.g.connect(args[0])
	if err != nil {
		return err
	}
	d, err := resolve(ctx, c, ref)
	if err != nil {
		return err
	}
	if err := c.Tag(ctx, ref.Repo, d, args[1]); err != nil {
		return registryError(ref.Host, fmt.Errorf("tagging %s as %s: %w", ref, args[1], err))
	}
	fmt.Fprintln(opts.g.stdout, d)
	return nil
}
