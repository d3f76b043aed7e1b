package main

import (
	"context"
	"fmt"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/artifact"
)

// resolveOptions are resolve's flags.
type resolveOptions struct {
	g *globalOptions
}

func newResolveCommand(g *globalOptions) *command {
	opts := resolveOptions{g: g}
	return &command{
		name: "resolve", usage: "resolve REF          prints the digest (for pinning)",
		flags: g.newFlagSet("resolve"),
		run:   func(ctx context.Context, args []string) error { return runResolve(ctx, opts, args) },
	}
}

// runResolve prints the digest of the manifest REF names.
func runResolve(ctx context.Context, opts resolveOptions, args []string) error {
	if err := wantArgs("resolve", args, 1); err != nil {
		return err
	}
	ref, c, err := opts.g.connect(args[0])
	if err != nil {
		return err
	}
	d, err := resolve(ctx, c, ref)
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.g.stdout, d)
	return nil
}

// resolve returns the digest of the manifest ref names, checking it exists.
func resolve(ctx context.Context, c *client.Client, ref client.Ref) (artifact.Digest, error) {
	desc, err := c.ResolveManifest(ctx, ref.Repo, ref.Reference())
	if err != nil {
		return "", registryError(ref.Host, fmt.Errorf("resolving %s: %w", ref, err))
	}
	return desc.Digest, nil
}
