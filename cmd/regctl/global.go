package main

import (
	"flag"
	"io"
	"os"
	"strconv"

	"github.com/normreg/normreg/api/client"
)

// globalOptions is what every command shares: its streams, its environment
// and the connection flags.
type globalOptions struct {
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	getenv      func(string) string
	stderrIsTTY bool // progress bars only on a terminal
	plainHTTP   bool
	caFile      string // PEM certificates to trust; "" for $REGCTL_CA_FILE
}

// newGlobalOptions returns options over the given streams and environment.
func newGlobalOptions(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, stderrIsTTY bool) *globalOptions {
	return &globalOptions{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, stderrIsTTY: stderrIsTTY}
}

// newFlagSet returns a command's flag set with the global flags on it.
func (g *globalOptions) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.BoolVar(&g.plainHTTP, "plain-http", false, "speak HTTP, not HTTPS, to the registry (also REGCTL_PLAIN_HTTP=1)")
	fs.StringVar(&g.caFile, "ca-file", "", "trust the PEM certificate(s) in this file and speak HTTPS even to loopback hosts (also REGCTL_CA_FILE)")
	return fs
}

// parseRef parses a REF with $REGCTL_REGISTRY as the default host.
func (g *globalOptions) parseRef(s string) (client.Ref, error) {
	ref, err := client.ParseRef(s, g.getenv("REGCTL_REGISTRY"))
	if err != nil {
		return client.Ref{}, usageError("%w", err)
	}
	return ref, nil
}

// client returns a client of host with the credential for it: $REGCTL_TOKEN,
// else the one `regctl login` stored.
func (g *globalOptions) client(host string) (*client.Client, error) {
	token := g.getenv("REGCTL_TOKEN")
	if token == "" {
		creds, err := loadCredentials(g.getenv)
		if err != nil {
			return nil, err
		}
		token = creds.Registries[host].Token
	}
	return g.clientWithToken(host, token)
}

// clientWithToken returns a client of host that sends token. With a CA
// file (--ca-file, else $REGCTL_CA_FILE) it trusts that file's certificates
// and speaks HTTPS to loopback hosts too.
func (g *globalOptions) clientWithToken(host, token string) (*client.Client, error) {
	plain, err := g.plainHTTPWanted()
	if err != nil {
		return nil, err
	}
	o := client.Options{PlainHTTP: plain, Token: token}
	caFile := g.caFile
	if caFile == "" {
		caFile = g.getenv("REGCTL_CA_FILE")
	}
	if plain && caFile != "" {
		return nil, usageError("--plain-http (or REGCTL_PLAIN_HTTP) and a CA file (--ca-file or REGCTL_CA_FILE %s) contradict each other: a CA file is for HTTPS", caFile)
	}
	if caFile != "" {
		hc, err := client.TrustingHTTPClient(caFile)
		if err != nil {
			return nil, err
		}
		o.HTTPClient, o.HTTPS = hc, true
	}
	return client.New(host, o), nil
}

// plainHTTPWanted reports whether --plain-http or $REGCTL_PLAIN_HTTP asks
// for plain HTTP; a value of the variable that is not a boolean is an error.
func (g *globalOptions) plainHTTPWanted() (bool, error) {
	v := g.getenv("REGCTL_PLAIN_HTTP")
	if g.plainHTTP || v == "" {
		return g.plainHTTP, nil
	}
	plain, err := strconv.ParseBool(v)
	if err != nil {
		return false, usageError("REGCTL_PLAIN_HTTP=%q: want 1 or 0 (or true, false)", v)
	}
	return plain, nil
}

// hostArg returns the registry host a command names in its only optional
// argument, else $REGCTL_REGISTRY.
func (g *globalOptions) hostArg(cmd string, args []string) (string, error) {
	host := g.getenv("REGCTL_REGISTRY")
	if len(args) == 1 {
		host = args[0]
	}
	switch {
	case len(args) > 1:
		return "", usageError("%s takes at most one argument, the registry host", cmd)
	case host == "":
		return "", usageError("%s: no registry host given and REGCTL_REGISTRY is unset", cmd)
	}
	if err := client.ValidateHost(host); err != nil {
		return "", usageError("%s: %w", cmd, err)
	}
	return host, nil
}

// isTerminal reports whether f is a terminal: a character device other
// than /dev/null, where deploy scripts often send stderr.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// connect parses a REF and returns it with a client of its host.
func (g *globalOptions) connect(s string) (client.Ref, *client.Client, error) {
	ref, err := g.parseRef(s)
	if err != nil {
		return client.Ref{}, nil, err
	}
	c, err := g.client(ref.Host)
	return ref, c, err
}
