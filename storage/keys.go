package storage

import (
	"fmt"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// The key layout. Every key the stores use is built in this file, only from
// repository names, tags, digests and upload ids that were validated first.
//
//	blobs/<alg>/<hex>                                 a blob's bytes, stored once for all repositories
//	blobrefs/<alg>/<hex>                              or: the blobdata key that holds them (JSON)
//	blobdata/<uuid>                                   bytes of an upload's first chunk (drivers without Move)
//	repos/<name>/_blobs/<alg>/<hex>                   link: the blob belongs to the repository (empty)
//	repos/<name>/_manifests/<alg>/<hex>               link: the manifest belongs to the repository; holds
//	                                                  its media type and subject (JSON); its bytes are a blob
//	repos/<name>/_tags/<tag>                          the tag's current digest and move count (JSON), moved by PutIf
//	repos/<name>/_taglog/<tag>/<20-digit seq>         the tag's move number seq, from 1 (JSON TagMove)
//	repos/<name>/_referrers/<alg>/<hex>/<alg>-<hex>   descriptor (JSON) of a manifest whose subject is alg:hex
//	catalog/<name with "/" as "!">                    the repository exists (empty)
//	uploads/_info/<uuid>                              an upload session: its repository, start, and whether
//	                                                  its removal began (JSON)
//	uploads/_sum/<uuid>                               sha256 and size of the session's chunk at 0, and its
//	                                                  blobdata key on drivers without Move (JSON; empty
//	                                                  while its removal holds it)
//	uploads/_staged/<uuid>                            a first chunk being stored, before its move to c-0 (Mover drivers)
//	uploads/<uuid>/c-<20-digit offset>                the session's bytes from that offset
//
// No key is a "folder" of another: repository name components never start
// with "_", tags contain no "/", and a uuid never starts with "_". Encoding
// "/" as "!" (which sorts below every character of a name) keeps the catalog
// in path order, component by component.

// blobKey is where the bytes of d are kept.
func blobKey(d artifact.Digest) string {
	return blobsDir + digestPath(d)
}

// blobsDir holds the blobs stored under their own key, blobRefsDir the
// references to blobs held as upload data.
const (
	blobsDir    = "blobs/"
	blobRefsDir = "blobrefs/"
)

// blobRefKey is where the reference to blob d's data is kept, when its
// bytes are not at blobKey(d).
func blobRefKey(d artifact.Digest) string {
	return blobRefsDir + digestPath(d)
}

// blobDataDir holds the blob data of all uploads.
const blobDataDir = "blobdata/"

// blobDataKey is where an upload's first chunk is stored on drivers
// without Move; data is a fresh uuid.
func blobDataKey(data string) string {
	return blobDataDir + data
}

// digestPath is d as two key components, alg/hex.
func digestPath(d artifact.Digest) string {
	return string(d.Algorithm()) + "/" + d.Hex()
}

// repoKey is the prefix of everything kept for repository repo.
func repoKey(repo string) string {
	return "repos/" + repo + "/"
}

func blobLinkKey(repo string, d artifact.Digest) string {
	return repoKey(repo) + "_blobs/" + digestPath(d)
}

func manifestsDir(repo string) string {
	return repoKey(repo) + "_manifests/"
}

func manifestKey(repo string, d artifact.Digest) string {
	return manifestsDir(repo) + digestPath(d)
}

func tagKey(repo, tag string) string {
	return tagsDir(repo) + tag
}

func tagsDir(repo string) string {
	return repoKey(repo) + "_tags/"
}

func tagLogDir(repo, tag string) string {
	return repoKey(repo) + "_taglog/" + tag + "/"
}

func tagLogKey(repo, tag string, seq int64) string {
	return tagLogDir(repo, tag) + counter(seq)
}

func referrersDir(repo string, subject artifact.Digest) string {
	return repoKey(repo) + "_referrers/" + digestPath(subject) + "/"
}

func referrerKey(repo string, subject, d artifact.Digest) string {
	return referrersDir(repo, subject) + string(d.Algorithm()) + "-" + d.Hex()
}

const catalogDir = "catalog/"

// catalogName is repo as one key component; catalogRepo reverses it.
func catalogName(repo string) string { return strings.ReplaceAll(repo, "/", "!") }

func catalogRepo(name string) string { return strings.ReplaceAll(name, "!", "/") }

// catalogKey is repo's entry in the catalog.
func catalogKey(repo string) string { return catalogDir + catalogName(repo) }

const uploadInfoDir = "uploads/_info/"

func uploadInfoKey(id string) string {
	return uploadInfoDir + id
}

const uploadSumDir = "uploads/_sum/"

func uploadSumKey(id string) string {
	return uploadSumDir + id
}

// uploadStagedKey is where a first chunk is written before it is moved to
// its chunk key; staging is a fresh uuid, not the session's.
func uploadStagedKey(staging string) string {
	return "uploads/_staged/" + staging
}

func uploadDir(id string) string {
	return "uploads/" + id + "/"
}

func chunkName(offset int64) string {
	return "c-" + counter(offset)
}

// counter formats n with 20 digits, so byte order is numeric order.
func counter(n int64) string {
	return fmt.Sprintf("%020d", n)
}
