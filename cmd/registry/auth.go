package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/normreg/normreg/api"
)

// loadAuth reads the --auth-file; "" means no access control (nil).
func loadAuth(path string) (*api.Auth, error) {
	if path == "" {
		return nil, nil
	}
	return api.LoadAuth(path)
}

// loadTLS reads --tls-cert and --tls-key before the registry starts, so
// that a missing or mismatched file stops start-up naming the flags; nil
// without --tls-cert (plain HTTP).
func loadTLS(cfg config) (*tls.Config, error) {
	if cfg.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", cfg.tlsCert, cfg.tlsKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// serveListener serves srv on ln, over TLS when srv has a TLS config.
func serveListener(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// hashTokenCommand runs `registry hash-token ARGS`: it takes no arguments
// (the secret comes on stdin only, never on the command line); -h or --help
// prints the usage (flag.ErrHelp), anything else too, as a flagError.
func hashTokenCommand(args []string, in io.Reader, out, errOut io.Writer) error {
	if len(args) == 0 {
		return hashToken(in, out)
	}
	if slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		fmt.Fprintln(errOut, "usage: "+hashTokenUsage)
		return flag.ErrHelp
	}
	err := fmt.Errorf("hash-token takes no arguments, got %q: the secret comes on stdin (never on the command line, where the shell's history keeps it)", args)
	fmt.Fprintf(errOut, "registry: %v\nusage: %s\n", err, hashTokenUsage)
	return flagError{err}
}

// hashToken reads a secret (its first line, without the line ending) from
// in and writes the salted hash to put in the auth file to out.
func hashToken(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		return errors.New("hash-token: no secret on stdin")
	}
	hash, err := api.HashSecret(secret)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, hash)
	return err
}
