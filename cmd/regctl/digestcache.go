package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/artifact"
)

// pruneEvery is how often a put looks through the cache for entries that
// can never match again (their file is gone or has changed since).
const pruneEvery = 24 * time.Hour

// digestCache remembers the sha256 of files regctl has hashed, so a push of
// an unchanged file learns its digest without reading it. Each entry is one
// small JSON file (its fileKey and digest) in dir, named by the sha256 of
// the key, written atomically (temp file + rename). A cache that cannot be
// read or written is no cache: its errors are never fatal, and an entry that
// is unreadable, corrupt or not for its key is ignored. Entries that can no
// longer match are removed once a day (pruneIfDue).
type digestCache struct {
	dir string
}

// fileKey names one version of a file: an edit changes its ctime, which
// users cannot set, so an edited file never matches an entry made before.
type fileKey struct {
	Path    string `json:"path"` // absolute
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
}

// cacheEntry is the content of one entry file.
type cacheEntry struct {
	Key    fileKey         `json:"key"`
	Digest artifact.Digest `json:"digest"`
	// Repos are where regctl last pushed or pulled the file, as
	// HOST/REPOSITORY, the latest first (at most maxRepos): a push to
	// another repository of the same registry mounts the blob from there.
	Repos []string `json:"repos,omitempty"`
}

// maxRepos is how many repositories an entry remembers.
const maxRepos = 8

// cachedRepo is ref's repository as an entry's Repos name it: HOST/REPOSITORY.
func cachedRepo(ref client.Ref) string { return ref.Host + "/" + ref.Repo }

// digestCache returns the cache under $XDG_CACHE_HOME/normreg/digests (else
// ~/.cache/normreg/digests, os.UserCacheDir's choice on Linux), or nil when
// REGCTL_DIGEST_CACHE=off or neither variable is set.
func (g *globalOptions) digestCache() *digestCache {
	if g.getenv("REGCTL_DIGEST_CACHE") == "off" {
		return nil
	}
	dir := g.getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := g.getenv("HOME")
		if home == "" {
			return nil
		}
		dir = filepath.Join(home, ".cache")
	}
	return &digestCache{dir: filepath.Join(dir, "normreg", "digests")}
}

// entryPath is the file holding k's entry.
func (c *digestCache) entryPath(k fileKey) string {
	b, _ := json.Marshal(k) // a struct of strings and numbers always encodes
	sum := sha256.Sum256(b)
	return filepath.Join(c.dir, hex.EncodeToString(sum[:]))
}

// get returns the entry recorded for k, its digest parsed; false when
// there is none usable.
func (c *digestCache) get(k fileKey) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	e, ok := readEntry(c.entryPath(k))
	if !ok || e.Key != k {
		return cacheEntry{}, false
	}
	d, err := artifact.ParseDigest(string(e.Digest))
	if err != nil || d.Algorithm() != artifact.SHA256 {
		return cacheEntry{}, false
	}
	e.Digest = d
	return e, true
}

// readEntry reads the entry file at path; false if it is unreadable or
// corrupt.
func readEntry(path string) (cacheEntry, bool) {
	var e cacheEntry
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &e) != nil {
		return cacheEntry{}, false
	}
	return e, true
}

// put records d as k's digest and, unless repo is "", that the file is in
// repo (HOST/REPOSITORY), keeping the repositories an entry for the same
// digest named; it silently does nothing when it cannot.
func (c *digestCache) put(k fileKey, d artifact.Digest, repo string) {
	if c == nil {
		return
	}
	e := cacheEntry{Key: k, Digest: d}
	if old, ok := c.get(k); ok && old.Digest == d {
		e.Repos = old.Repos
	}
	if repo != "" {
		e.Repos = append([]string{repo}, slices.DeleteFunc(e.Repos, func(r string) bool { return r == repo })...)
		e.Repos = e.Repos[:min(len(e.Repos), maxRepos)]
	}
	b, _ := json.Marshal(e)
	if os.MkdirAll(c.dir, 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(c.dir, ".entry-*")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil && cerr == nil && os.Rename(tmp.Name(), c.entryPath(k)) == nil {
		c.pruneIfDue(time.Now())
	}
}

// putFile is put for the file at path, which has digest d (a pulled file,
// verified as it was written).
func (c *digestCache) putFile(path string, d artifact.Digest, repo string) {
	if c == nil {
		return
	}
	if st, err := os.Stat(path); err == nil {
		if k, ok := keyOf(path, st); ok {
			c.put(k, d, repo)
		}
	}
}

// pruneIfDue removes the entries that can no longer match (prune) when the
// last pruning, the modification time of the stamp file beside the cache's
// directory, is pruneEvery or more before now, or never happened.
func (c *digestCache) pruneIfDue(now time.Time) {
	stamp := c.dir + ".pruned"
	if st, err := os.Stat(stamp); err == nil && now.Sub(st.ModTime()) < pruneEvery {
		return
	}
	if os.WriteFile(stamp, nil, 0o600) != nil || os.Chtimes(stamp, now, now) != nil {
		return
	}
	c.prune()
}

// prune removes every entry that is unreadable or corrupt, or whose file is
// gone or no longer has the entry's key (an edited file never matches an
// entry made before the edit). Temporary files of puts in progress are left.
func (c *digestCache) prune() {
	es, _ := os.ReadDir(c.dir)
	for _, e := range es {
		if path := filepath.Join(c.dir, e.Name()); !strings.HasPrefix(e.Name(), ".") && !matchesItsFile(path) {
			os.Remove(path)
		}
	}
}

// matchesItsFile reports whether the entry at path is readable and names
// its file as the file is now.
func matchesItsFile(path string) bool {
	e, ok := readEntry(path)
	if !ok {
		return false
	}
	st, err := os.Stat(e.Key.Path)
	if err != nil {
		return false
	}
	k, ok := statKey(e.Key.Path, st)
	return ok && k == e.Key
}

// drop removes k's entry, if any.
func (c *digestCache) drop(k fileKey) {
	if c != nil {
		os.Remove(c.entryPath(k))
	}
}

// keyOf returns the key of the file at path with status st; false when
// the platform does not give what a key needs (then nothing is cached).
func keyOf(path string, st os.FileInfo) (fileKey, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fileKey{}, false
	}
	return statKey(abs, st)
}
