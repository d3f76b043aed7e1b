package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// loginOptions are login's flags.
type loginOptions struct {
	g *globalOptions
}

func newLoginCommand(g *globalOptions) *command {
	opts := loginOptions{g: g}
	return &command{
		name: "login", usage: "login [HOST]   (reads the token from stdin)",
		flags: g.newFlagSet("login"),
		run:   func(ctx context.Context, args []string) error { return runLogin(ctx, opts, args) },
	}
}

// runLogin reads a token from stdin, checks that HOST (default
// $REGCTL_REGISTRY) accepts it, and stores it in the credentials file.
func runLogin(ctx context.Context, opts loginOptions, args []string) error {
	g := opts.g
	host, err := g.hostArg("login", args)
	if err != nil {
		return err
	}
	if g.stderrIsTTY {
		fmt.Fprintf(g.stderr, "token for %s: ", host)
	}
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	token := strings.TrimSpace(line)
	if token == "" {
		return usageError("login: no token on stdin (%v)", err)
	}
	creds, err := loadCredentials(g.getenv)
	if err != nil {
		return err
	}
	c, err := g.clientWithToken(host, token)
	if err != nil {
		return err
	}
	if err := c.Ping(ctx); err != nil {
		return registryError(host, err)
	}
	creds.Registries[host] = credential{Token: token}
	path, err := creds.save(g.getenv)
	if err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	fmt.Fprintln(g.stdout, path)
	return nil
}
