package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/internal/writeback"
	"github.com/normreg/normreg/manifest"
)

// pullOptions are pull's flags.
type pullOptions struct {
	g      *globalOptions
	out    string
	direct bool
}

// directMin is the size from which pull --direct writes a file with direct
// I/O: the weights, not the small files around them.
const directMin = 64 << 20

func newPullCommand(g *globalOptions) *command {
	opts := &pullOptions{g: g}
	fs := g.newFlagSet("pull")
	fs.StringVar(&opts.out, "o", "", "directory to write the bundle's files into (must not exist or be empty)")
	fs.BoolVar(&opts.direct, "direct", false, "write files of 64 MiB or more with direct I/O, bypassing the page cache")
	return &command{
		name: "pull", usage: "pull REF -o DIR [--direct]  verify everything, then put the files in DIR; on refusal write nothing", flags: fs,
		run: func(ctx context.Context, args []string) error { return runPull(ctx, *opts, args) },
	}
}

// runPull checks the bundle REF names while it downloads its files into a
// temp dir beside DIR, verifying every digest, and only then renames the
// temp dir to DIR, records the weights file's digest and repository in the
// digest cache (a push of it sends nothing the registry has) and prints DIR. A refusal (exit 3) or error leaves nothing
// behind; files and directories are fsynced before the rename, so DIR
// survives a crash whole.
func runPull(ctx context.Context, opts pullOptions, args []string) error {
	if err := wantArgs("pull", args, 1); err != nil {
		return err
	}
	if opts.out == "" {
		return usageError("pull needs -o DIR")
	}
	if err := checkEmptyDir(opts.out); err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(opts.out))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(opts.out)+".pull-*")
	if errors.Is(err, fs.ErrNotExist) {
		return usageError("-o %s: the directory %s does not exist (pull creates only the last component)", opts.out, parent)
	}
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rb, err := checkRemote(ctx, opts.g, args[0], manifest.CheckOptions{}, fileSink(tmp, opts.direct))
	if err != nil {
		return err
	}
	printFindings(opts.g.stderr, rb.findings)
	if rb.findings.Refused() {
		return refusedError(rb.ref.String(), rb.findings)
	}
	if err := writeDurably(filepath.Join(tmp, "manifest.json"), rb.raw); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := writeback.SyncDir(tmp); err != nil {
		return err
	}
	os.Remove(opts.out) // an empty DIR is replaced
	if err := os.Rename(tmp, opts.out); err != nil {
		return fmt.Errorf("moving the verified bundle into place: %w", err)
	}
	if err := writeback.SyncDir(parent); err != nil {
		return err
	}
	if name, err := fileName(rb.view.Weights); err == nil {
		opts.g.digestCache().putFile(filepath.Join(opts.out, name), rb.view.Weights.Digest, cachedRepo(rb.ref))
	}
	fmt.Fprintln(opts.g.stdout, opts.out)
	return nil
}

// writeDurably writes data to a new file at path and fsyncs it.
func writeDurably(path string, data []byte) error {
	f, err := writeback.Create(path, 0o644, false)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// checkEmptyDir refuses an existing DIR that is not an empty directory.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return usageError("-o %s: %w", dir, err)
	case len(entries) > 0:
		return usageError("-o %s exists and is not empty", dir)
	}
	return nil
}

// fileSink writes each blob into dir under its title annotation
// (config.json for the config), fsynced on Close so that once DIR is
// renamed into place a crash cannot leave it with files the disk never got.
// With direct, blobs of directMin bytes or more are written with direct I/O.
func fileSink(dir string, direct bool) blobSink {
	return func(desc artifact.Descriptor) (io.WriteCloser, error) {
		name, err := fileName(desc)
		if err != nil {
			return nil, err
		}
		return writeback.Create(filepath.Join(dir, name), 0o644, direct && desc.Size >= directMin)
	}
}

// blobLabel names a blob of a bundle in messages: the file pull writes it
// to (see fileName), else, when its title is unsafe, its digest.
func blobLabel(desc artifact.Descriptor) string {
	if name, err := fileName(desc); err == nil {
		return name
	}
	return desc.Digest.String()
}

// fileName is the file a blob is written to: its title, a plain file name.
func fileName(desc artifact.Descriptor) (string, error) {
	if desc.MediaType == manifest.MediaTypeConfig {
		return "config.json", nil
	}
	name, ok := desc.Annotations[manifest.AnnotationTitle]
	if !ok {
		return string(desc.Digest.Algorithm()) + "-" + desc.Digest.Hex(), nil
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || name == "manifest.json" || name == "config.json" {
		return "", fmt.Errorf("layer %s has an unsafe file name %q", desc.Digest, name)
	}
	return name, nil
}
