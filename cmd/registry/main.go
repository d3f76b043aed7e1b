// Command registry is normreg's server: the OCI Distribution API on a local
// directory (the default) or on S3.
//
//	registry [--listen 127.0.0.1:5000] [--storage file://./registry-data | s3://BUCKET/PREFIX?endpoint=URL&region=R]
//	         [--upload-ttl 24h] [--auth-file tokens.json] [--tls-cert F --tls-key F]
//	         [--require-bundles PATTERN,...] [--immutable-tags PATTERN,...] [--log-level info]
//	         [--s3-redirect]
//	registry hash-token < secret
//	registry scrub [--storage URL] [--upload-ttl 24h] [--remove]
//
// Every flag can also be set from the environment: REGISTRY_LISTEN,
// REGISTRY_STORAGE, REGISTRY_UPLOAD_TTL, REGISTRY_AUTH_FILE,
// REGISTRY_TLS_CERT, REGISTRY_TLS_KEY, REGISTRY_REQUIRE_BUNDLES,
// REGISTRY_IMMUTABLE_TAGS, REGISTRY_LOG_LEVEL, REGISTRY_S3_REDIRECT (1 or 0).
// A flag wins over the environment.
// hash-token prints the auth-file hash of the secret read from stdin
// (docs/auth.md). scrub hashes every stored blob and names those whose
// bytes no longer match their digest, and names the blob data that nothing
// refers to (older than the upload TTL); --remove deletes both, so that the
// next push stores the damaged blobs again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
	"github.com/normreg/normreg/storage/s3"
)

// The --storage flag's default and help, and --upload-ttl's default.
const (
	defaultStorage   = "file://./registry-data"
	storageUsage     = "file://DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R (REGISTRY_STORAGE)"
	defaultUploadTTL = 24 * time.Hour
)

// uploadTTLEnv is the environment variable of --upload-ttl.
var uploadTTLEnv = envValue{"REGISTRY_UPLOAD_TTL", "a duration such as 30m or 24h"}

// config is the registry's parsed command line and environment.
type config struct {
	listen    string
	storage   string
	uploadTTL time.Duration
	authFile  string // "": the registry is open
	tlsCert   string // "": plain HTTP
	tlsKey    string

	requireBundles patternList // repositories that accept only normreg bundles
	immutableTags  patternList // tags that cannot move or be deleted once set
	logLevel       slog.Level  // least severe level logged; requests log at info
	s3Redirect     bool        // blob GETs are redirected to presigned S3 URLs
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch {
	case len(os.Args) > 1 && os.Args[1] == "hash-token":
		exitOn(hashTokenCommand(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	case len(os.Args) > 1 && os.Args[1] == "scrub":
		exitOn(scrub(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	default:
		args := os.Args[1:]
		if len(args) == 1 && args[0] == "help" {
			args = []string{"--help"}
		}
		cfg, err := parseConfig(args, os.Getenv, os.Stderr)
		if err == nil {
			err = serve(ctx, cfg, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel})))
		}
		exitOn(err)
	}
}

// flagError is an error of the flag package, which has already printed it
// with the usage.
type flagError struct{ error }

// Unwrap returns the flag package's error.
func (e flagError) Unwrap() error { return e.error }

// exitOn ends a command as its error says: nothing for none or a request
// for help (the usage printed), status 2 for a flagError (printed with the
// usage already), else err printed and status 1.
func exitOn(err error) {
	var flagErr flagError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &flagErr):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

// hashTokenUsage is hash-token's line of the usage.
const hashTokenUsage = "registry hash-token < FILE   reads a token (its first line) on stdin, prints the hash to put in an --auth-file"

// parseConfig reads flags from args, each defaulting to its REGISTRY_*
// environment variable (read with getenv), then to the built-in default.
// A malformed --upload-ttl or --log-level in the environment is an error
// unless the flag is given.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var cfg config
	fl := flag.NewFlagSet("registry", flag.ContinueOnError)
	fl.SetOutput(usage)
	fl.Usage = func() {
		fmt.Fprint(usage, "usage: registry [flags]\n"+
			"       "+hashTokenUsage+"\n"+
			"       registry scrub [--storage URL] [--upload-ttl D] [--remove]   hash every stored blob, name (and remove) corrupt ones, orphan blob data and unfinished writes\n\nflags:\n")
		fl.PrintDefaults()
	}
	fl.StringVar(&cfg.listen, "listen", env("REGISTRY_LISTEN", "127.0.0.1:5000"), "address to serve on (REGISTRY_LISTEN)")
	fl.StringVar(&cfg.storage, "storage", env("REGISTRY_STORAGE", defaultStorage), storageUsage)
	fl.DurationVar(&cfg.uploadTTL, "upload-ttl", defaultUploadTTL, "unfinished uploads, and the remains of cut-off writes, idle for longer than this are removed (REGISTRY_UPLOAD_TTL)")
	fl.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "least severe level logged: debug|info|warn|error; requests log at info (REGISTRY_LOG_LEVEL)")
	fl.StringVar(&cfg.authFile, "auth-file", env("REGISTRY_AUTH_FILE", ""), "JSON file of scoped tokens; unset: open registry (REGISTRY_AUTH_FILE)")
	fl.StringVar(&cfg.tlsCert, "tls-cert", env("REGISTRY_TLS_CERT", ""), "PEM certificate (chain): serve HTTPS (REGISTRY_TLS_CERT)")
	fl.StringVar(&cfg.tlsKey, "tls-key", env("REGISTRY_TLS_KEY", ""), "PEM private key of --tls-cert (REGISTRY_TLS_KEY)")
	fl.Var(&cfg.requireBundles, "require-bundles", "comma-separated repository patterns (prod/*) accepting only normreg bundles (REGISTRY_REQUIRE_BUNDLES)")
	fl.BoolVar(&cfg.s3Redirect, "s3-redirect", false,
		"answer blob GETs with a redirect to a presigned S3 URL; clients must reach the S3 endpoint (REGISTRY_S3_REDIRECT)")
	fl.Var(&cfg.immutableTags, "immutable-tags", "comma-separated tag patterns (v*) that cannot be moved or deleted once set (REGISTRY_IMMUTABLE_TAGS)")
	setFromEnv(getenv, map[string]*patternList{
		"REGISTRY_REQUIRE_BUNDLES": &cfg.requireBundles, "REGISTRY_IMMUTABLE_TAGS": &cfg.immutableTags})
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, flagError{err}
	}
	if fl.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if err := setUnlessGiven(fl, getenv, map[string]envValue{"upload-ttl": uploadTTLEnv,
		"log-level": {"REGISTRY_LOG_LEVEL", "debug, info, warn or error"}, "s3-redirect": {"REGISTRY_S3_REDIRECT", "1 or 0 (or true, false)"}}); err != nil {
		return config{}, err
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// envValue is the environment variable of a flag and the values it takes.
type envValue struct{ name, want string }

// setUnlessGiven sets each flag of envs that was not given on the command
// line from its non-empty environment variable, parsed as the flag parses:
// the flag wins, so a bad value in the environment does not stop a registry
// started with the flag. A bad value is an error naming the variable, the
// value and what it takes.
func setUnlessGiven(fl *flag.FlagSet, getenv func(string) string, envs map[string]envValue) error {
	given := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, env := range envs {
		v := getenv(env.name)
		if v == "" || given[name] {
			continue
		}
		if err := fl.Set(name, v); err != nil {
			return fmt.Errorf("%s=%q: want %s", env.name, v, env.want)
		}
	}
	return nil
}

// validate refuses settings the registry cannot start with: a non-positive
// --upload-ttl, one of --tls-cert and --tls-key without the other,
// --s3-redirect on storage other than s3://, and patterns that could never
// match.
func (cfg config) validate() error {
	if err := checkUploadTTL(cfg.uploadTTL); err != nil {
		return err
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.s3Redirect && !strings.HasPrefix(cfg.storage, "s3://") {
		return fmt.Errorf("--s3-redirect needs s3:// storage (clients are sent to presigned S3 URLs), not %q", cfg.storage)
	}
	return cfg.validatePatterns()
}

// checkUploadTTL refuses a non-positive upload TTL.
func checkUploadTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("--upload-ttl %s: must be positive", ttl)
	}
	return nil
}

// openDriver builds the storage driver a --storage URL names. An S3 bucket
// that cannot be reached is an error naming the problem. With readOnly a
// file:// directory must exist and is opened without writing to it
// (fs.Open), so that a read-only copy can be read.
func openDriver(ctx context.Context, rawURL string, readOnly bool) (storage.Driver, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	switch {
	case scheme == "file" && strings.ContainsAny(rest, "?#"):
		return nil, fmt.Errorf("storage %q: file:// takes a directory and no parameters", rawURL)
	case scheme == "file" && rest != "" && readOnly:
		return fs.Open(rest)
	case scheme == "file" && rest != "":
		return fs.New(rest)
	case scheme == "s3":
		cfg, err := s3.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, cfg)
	}
	return nil, fmt.Errorf("storage %q: want file://DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R", rawURL)
}

// serve runs the registry until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	driver, err := openDriver(ctx, cfg.storage, false)
	if err != nil {
		return err
	}
	store := storage.New(driver)
	auth, err := loadAuth(cfg.authFile)
	if err != nil {
		return err
	}
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.New(api.Config{Store: store, Logger: log, Auth: auth,
		RequireBundles: cfg.requireBundles, ImmutableTags: cfg.immutableTags, RedirectBlobs: cfg.s3Redirect}),
		ReadHeaderTimeout: 30 * time.Second, IdleTimeout: idleTimeout, TLSConfig: tlsConfig}
	go expireUploads(ctx, store.Uploads, driver, cfg.uploadTTL, log)
	served := make(chan error, 1)
	go func() { served <- serveListener(srv, ln) }()
	log.Info("serving", "listen", ln.Addr().String(), "storage", cfg.storage, "upload_ttl", cfg.uploadTTL.String(),
		"tls", cfg.tlsCert != "", "auth", cfg.authFile != "", "s3_redirect", cfg.s3Redirect)
	for _, w := range exposureWarnings(ln.Addr(), cfg.authFile != "", cfg.tlsCert != "") {
		log.Warn(w, "listen", ln.Addr().String())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	return shutdown(srv, shutdownGrace)
}

// shutdownGrace is how long a stopping registry lets the requests in
// flight finish.
const shutdownGrace = 30 * time.Second

// shutdown stops srv from accepting connections and waits up to grace for
// the requests in flight; it cuts off those still running then, and says so.
func shutdown(srv *http.Server, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return fmt.Errorf("shutting down: requests still running after %s were cut off", grace)
	}
	return err
}

// idleTimeout closes a keep-alive connection idle for this long, so that
// idle clients cannot hold the registry's file descriptors forever.
const idleTimeout = 2 * time.Minute

// exposureWarnings returns what the start-up log warns of when the registry
// listens on addr beyond the loopback interface: without an auth file
// anyone who reaches it may push, move tags and delete; without TLS the
// tokens cross the network readable.
func exposureWarnings(addr net.Addr, auth, tls bool) []string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return nil
	}
	var ws []string
	if !auth {
		ws = append(ws, "listening beyond loopback without --auth-file: anyone who can reach it can push, move tags and delete (docs/auth.md)")
	}
	if !tls {
		ws = append(ws, "listening beyond loopback without --tls-cert: requests, tokens included, cross the network unencrypted (or put a TLS proxy in front)")
	}
	return ws
}

// expireUploads runs cleanUp once a minute until ctx ends.
func expireUploads(ctx context.Context, uploads *storage.Uploads, driver storage.Driver, ttl time.Duration, log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cleanUp(ctx, uploads, driver, ttl, log)
	}
}

// cleanUp removes the upload sessions idle for longer than ttl and, when
// the driver is a storage.Sweeper, the debris of writes cut off (temp
// files, unfinished multipart uploads) untouched for as long, and logs
// what it removed.
func cleanUp(ctx context.Context, uploads *storage.Uploads, driver storage.Driver, ttl time.Duration, log *slog.Logger) {
	n, err := uploads.Expire(ctx, ttl)
	if err != nil {
		log.Error("expiring uploads", "error", err)
	} else if n > 0 {
		log.Info("expired uploads", "count", n, "ttl", ttl.String())
	}
	sweeper, ok := driver.(storage.Sweeper)
	if !ok {
		return
	}
	n, err = sweeper.Sweep(ctx, time.Now().Add(-ttl), true)
	if err != nil {
		log.Error("sweeping unfinished writes", "error", err)
	} else if n > 0 {
		log.Info("swept unfinished writes", "count", n, "ttl", ttl.String())
	}
}
