package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// serveListener serves srv on ln, over TLS when cfg names a certificate.
func serveListener(srv *http.Server, ln net.Listener, cfg config) error {
	if cfg.tlsCert != "" {
		return srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
	}
	return srv.Serve(ln)
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
