// Package fs is the storage.Driver on a local directory, the registry's
// embedded default.
//
// An object is a file at root/<key>. Writes go to a temp file under
// root/.tmp, are fsynced, renamed into place and the directory fsynced, so a
// reader sees the old file or the whole new one. Conditional puts hold an
// exclusive flock on a file under root/.locks, so they are safe across
// processes sharing root. A version is the file's modification time in
// nanoseconds and its size; every write sets the time explicitly, and a
// conditional put moves it strictly forward, so a version is never reused for
// a key. Top-level names starting with "." are reserved.
package fs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/normreg/normreg/internal/writeback"
	"github.com/normreg/normreg/storage"
)

// Driver stores objects as files under a root directory.
type Driver struct {
	root string
}

var (
	_ storage.Driver  = (*Driver)(nil)
	_ storage.Mover   = (*Driver)(nil)
	_ storage.Sweeper = (*Driver)(nil)
)

// errInvalidKey: a key that is not a valid slash-separated path for this driver.
var errInvalidKey = errors.New("invalid storage key")

// lockPoll is how often a conditional put retries a held lock.
const lockPoll = 2 * time.Millisecond

// New returns a driver on root, creating root and its temp and lock
// directories if needed. A directory it may not write to (owned by another
// user, a read-only mount) is an error naming it, so that such a root stops
// start-up rather than fails every push.
func New(root string) (*Driver, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fs storage %q: %w", root, err)
	}
	for _, dir := range []string{abs, filepath.Join(abs, ".tmp"), filepath.Join(abs, ".locks")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("fs storage: %w", err)
		}
		if err := checkWritable(dir); err != nil {
			return nil, fmt.Errorf("fs storage: %s is not writable: %w", dir, err)
		}
	}
	return &Driver{root: abs}, nil
}

// Open returns a driver on the existing directory root without creating or
// writing anything, for reading a copy that may be read-only (a backup, a
// read-only mount: registry scrub without --remove). Its writes fail where
// the directory may not be written.
func Open(root string) (*Driver, error) {
	abs, err := filepath.Abs(root)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(abs); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", abs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fs storage %q: %w", root, err)
	}
	return &Driver{root: abs}, nil
}

// checkWritable creates a file in dir and removes it.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// path maps a key to its file, rejecting keys that are not clean relative
// paths or that name the reserved top-level entries.
func (d *Driver) path(key string) (string, error) {
	parts := strings.Split(key, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", fmt.Errorf("%w: %q", errInvalidKey, key)
		}
	}
	if strings.HasPrefix(parts[0], ".") {
		return "", fmt.Errorf("%w: %q uses a reserved name", errInvalidKey, key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// notFound turns a missing-file error into storage.ErrNotFound for key.
func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	return err
}

// full marks err with storage.ErrFull when the filesystem had no space
// left for a write: ENOSPC, or EDQUOT (the user's quota).
func full(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", storage.ErrFull, err)
	}
	return err
}

// Open implements storage.Driver.
func (d *Driver) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	f, fi, err := d.openFile(ctx, key)
	if err == nil && (offset < 0 || offset > fi.Size()) {
		err = fmt.Errorf("%s: offset %d outside 0..%d", key, offset, fi.Size())
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		closeIf(f)
		return nil, err
	}
	return &ctxFile{ctx: ctx, File: f}, nil
}

// openFile opens key's file for reading and describes it.
func (d *Driver) openFile(ctx context.Context, key string) (*os.File, os.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, nil, err
	}
	// os.Open would also try to register the regular file with the
	// poller: four syscalls more per open, a third of a tag resolve's.
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, notFound(key, &fs.PathError{Op: "open", Path: p, Err: err})
	}
	f := os.NewFile(uintptr(fd), p)
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notFound(key, fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// closeIf closes f unless it is nil.
func closeIf(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// ctxFile is an open file whose reads fail once ctx is done.
type ctxFile struct {
	ctx context.Context
	*os.File
}

// Read implements io.Reader.
func (f *ctxFile) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.File.Read(p)
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements storage.Driver.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := d.write(ctx, key, r, time.Time{})
	return err
}

// write atomically replaces key's file with r's bytes, stamped with the
// current time or, if later, notBefore. It returns the new version.
func (d *Driver) write(ctx context.Context, key string, r io.Reader, notBefore time.Time) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, ".tmp"), "put-*")
	if err != nil {
		return "", fmt.Errorf("put %s: %w", key, full(err))
	}
	version, err := fill(ctx, tmp, r, notBefore)
	if err == nil {
		err = place(os.Rename, tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("put %s: %w", key, full(err))
	}
	return version, writeback.SyncDir(filepath.Dir(p))
}

// fill copies r into tmp, stamps and fsyncs it, closes it and returns its version.
func fill(ctx context.Context, tmp *os.File, r io.Reader, notBefore time.Time) (string, error) {
	_, err := io.Copy(writeback.New(tmp), ctxReader{ctx: ctx, r: r})
	stamp := time.Now()
	if !stamp.After(notBefore) {
		stamp = notBefore.Add(time.Nanosecond)
	}
	if err == nil {
		err = os.Chtimes(tmp.Name(), stamp, stamp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = tmp.Stat()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return version(fi), nil
}

// Sweep implements storage.Sweeper: it counts, and with remove removes, the
// temp files under root/.tmp last written before before, which a process
// killed mid-Put leaves behind (one that runs removes its own); none when
// root has no .tmp.
func (d *Driver) Sweep(ctx context.Context, before time.Time, remove bool) (int, error) {
	dir := filepath.Join(d.root, ".tmp")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // a root opened read-only (Open) without one
	}
	if err != nil {
		return 0, err
	}
	found := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return found, err
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // renamed into place or removed meanwhile
		}
		if err != nil {
			return found, err
		}
		if !info.ModTime().Before(before) {
			continue
		}
		if !remove {
			found++
			continue
		}
		switch err := os.Remove(filepath.Join(dir, e.Name())); {
		case err == nil:
			found++
		case !errors.Is(err, fs.ErrNotExist):
			return found, err
		}
	}
	return found, nil
}

// place puts the file src at p with op (os.Rename or os.Link), creating p's
// directory, and retrying if a concurrent Delete pruned that directory in
// between.
func place(op func(src, p string) error, src, p string) error {
	var err error
	for range 3 {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err = op(src, p); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// Move implements storage.Mover with link(2), then unlink of from: the file
// appears at to whole and keeps its inode (nothing is copied), and an
// existing to is never replaced.
func (d *Driver) Move(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, err := d.path(from)
	if err != nil {
		return err
	}
	dst, err := d.path(to)
	if err != nil {
		return err
	}
	err = place(os.Link, src, dst)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("move %s to %s: %w", from, to, storage.ErrPreconditionFailed)
	case err != nil:
		return notFound(from, full(err))
	}
	if err := writeback.SyncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	return d.unlink(src)
}

// unlink removes the file p, fsyncs its directory, then prunes the
// directories the removal left empty.
func (d *Driver) unlink(p string) error {
	if err := os.Remove(p); err != nil {
		return err
	}
	err := writeback.SyncDir(filepath.Dir(p))
	d.prune(filepath.Dir(p))
	return err
}

// version is the opaque version of a file: modification time and size.
func version(fi os.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.ModTime().UnixNano(), fi.Size())
}

// Stat implements storage.Driver.
func (d *Driver) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	p, err := d.path(key)
	if err != nil {
		return storage.Info{}, err
	}
	fi, err := os.Stat(p)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return storage.Info{}, notFound(key, err)
	}
	return storage.Info{Key: key, Size: fi.Size(), Version: version(fi), Modified: fi.ModTime()}, nil
}

// List implements storage.Driver. Subdirectories are deeper levels and are
// not listed.
func (d *Driver) List(ctx context.Context, dir, after string, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := d.root
	if dir != "" {
		var err error
		if p, err = d.path(strings.TrimSuffix(dir, "/")); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if len(names) == limit {
			break
		}
		if e.Type().IsRegular() && e.Name() > after {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Delete implements storage.Driver. It also removes the directories the
// deletion left empty.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.prune(filepath.Dir(p))
	return nil
}

// prune removes dir and its parents below root while they are empty.
func (d *Driver) prune(dir string) {
	for dir != d.root && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
}

// Get implements storage.Driver.
func (d *Driver) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	f, fi, err := d.openFile(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, "", fmt.Errorf("%s: %d bytes, at most %d: %w", key, fi.Size(), max, storage.ErrTooLarge)
	}
	// Files are replaced by rename, never rewritten: the open one keeps its size.
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(ctxReader{ctx: ctx, r: f}, data); err != nil {
		return nil, "", err
	}
	return data, version(fi), nil
}

// PutIf implements storage.Driver.
func (d *Driver) PutIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	unlock, err := d.lock(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	current, notBefore := "", time.Time{}
	if fi, err := os.Stat(p); err == nil {
		current, notBefore = version(fi), fi.ModTime()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if current != ifVersion {
		return "", fmt.Errorf("%s: version %q, expected %q: %w", key, current, ifVersion, storage.ErrPreconditionFailed)
	}
	return d.write(ctx, key, bytes.NewReader(data), notBefore)
}

// lock takes the exclusive cross-process lock of key, polling until it is
// free or ctx is done, and returns its release.
func (d *Driver) lock(ctx context.Context, key string) (func(), error) {
	sum := sha256.Sum256([]byte(key))
	f, err := os.OpenFile(filepath.Join(d.root, ".locks", hex.EncodeToString(sum[:])), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, full(err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(lockPoll):
			continue
		}
		break
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return func() { f.Close() }, nil
}
