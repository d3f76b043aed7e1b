package main

import (
	"context"
	"fmt"
)

// tagsOptions are tags' flags.
type tagsOptions struct {
	g *globalOptions
}

func newTagsCommand(g *globalOptions) *command {
	opts := tagsOptions{g: g}
	return &command{
		name: "tags", usage: "tags REPO            lists the tags, one a line",
		flags: g.newFlagSet("tags"),
		run:   func(ctx context.Context, args []string) error { return runTags(ctx, opts, args) },
	}
}

// runTags prints every tag of REPO ([host/]repo), one a line.
func runTags(ctx context.Context, opts tagsOptions, args []string) error {
	if err := wantArgs("tags", args, 1); err != nil {
		return err
	}
	ref, c, err := opts.g.connect(args[0])
	if err != nil {
		return err
	}
	if ref.Tag != "" || ref.Digest != "" {
		return usageError("tags takes a repository, not a tag or digest: %s", args[0])
	}
	tags, err := c.Tags(ctx, ref.Repo)
	if err != nil {
		return registryError(ref.Host, fmt.Errorf("listing tags of %s: %w", ref, err))
	}
	for _, t := range tags {
		fmt.Fprintln(opts.g.stdout, t)
	}
	return nil
}
