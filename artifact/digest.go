// Package artifact is normreg's domain: content digests and descriptors,
// verifying readers, repository and tag names, the safetensors and scaler
// readers, BatchNorm statistics, and the checks that refuse a model whose
// normalisation is missing or mismatched.
//
// It imports only the standard library (and protobuf-generated types where
// needed), so every other package can depend on it.
package artifact

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strings"
)

// Sentinel errors of the content model. Wrap them with %w and test them with
// errors.Is.
var (
	// ErrInvalidDigest: the text is not "algorithm:hex" for a supported algorithm.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrUnsupportedAlgorithm: the digest's algorithm is well formed but not sha256 or sha512.
	ErrUnsupportedAlgorithm = errors.New("unsupported digest algorithm")
	// ErrDigestMismatch: content does not hash to the digest it was stored or sent under.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch: content is longer or shorter than the size it was declared with.
	ErrSizeMismatch = errors.New("size mismatch")
)

// IsMismatch reports whether err is content that does not match its
// descriptor: it wraps ErrDigestMismatch or ErrSizeMismatch.
func IsMismatch(err error) bool {
	return errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSizeMismatch)
}

// Algorithm names a supported hash function.
type Algorithm string

// Supported algorithms.
const (
	SHA256 Algorithm = "sha256"
	SHA512 Algorithm = "sha512"
)

// hexLen is the length of the hex encoding of each algorithm's sum.
var hexLen = map[Algorithm]int{SHA256: 64, SHA512: 128}

// New returns a fresh hash for the algorithm.
func (a Algorithm) New() hash.Hash {
	if a == SHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// Digest is a content address: "algorithm:hex", e.g. "sha256:e3b0c4...".
type Digest string

// digestGrammar is the OCI image spec's digest grammar.
var digestGrammar = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

// ParseDigest validates s and returns it as a Digest. Only sha256 and sha512
// with lower-case hex of the right length are accepted.
func ParseDigest(s string) (Digest, error) {
	if !digestGrammar.MatchString(s) {
		return "", fmt.Errorf("%w: %q is not algorithm:hex", ErrInvalidDigest, s)
	}
	alg, enc, _ := strings.Cut(s, ":")
	n, ok := hexLen[Algorithm(alg)]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	if len(enc) != n || strings.Trim(enc, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %s needs %d lower-case hex digits, got %q", ErrInvalidDigest, alg, n, enc)
	}
	return Digest(s), nil
}

// FromBytes returns the digest of b under algorithm a.
func FromBytes(a Algorithm, b []byte) Digest {
	h := a.New()
	h.Write(b)
	return FromHash(a, h)
}

// FromHash returns the digest of what h has absorbed.
func FromHash(a Algorithm, h hash.Hash) Digest {
	return Digest(fmt.Sprintf("%s:%x", a, h.Sum(nil)))
}

// Algorithm returns the digest's algorithm. The digest must be valid.
func (d Digest) Algorithm() Algorithm {
	alg, _, _ := strings.Cut(string(d), ":")
	return Algorithm(alg)
}

// Hex returns the encoded part of the digest.
func (d Digest) Hex() string {
	_, enc, _ := strings.Cut(string(d), ":")
	return enc
}

// String returns the digest as text.
func (d Digest) String() string { return string(d) }

// VerifyReader reads exactly size bytes (any length when size < 0) from its
// source while hashing them. Where the source ends, it returns io.EOF only if
// the content hashes to the expected digest and has the expected size;
// otherwise it returns an error wrapping ErrDigestMismatch or ErrSizeMismatch
// in place of io.EOF. A consumer that commits only on a clean io.EOF (such as
// a storage driver's Put) therefore never commits wrong content.
type VerifyReader struct {
	src io.Reader
	verifier
}

// NewVerifyReader wraps r to verify it against expected and size (size < 0: unknown).
func NewVerifyReader(r io.Reader, expected Digest, size int64) *VerifyReader {
	return &VerifyReader{src: r, verifier: newVerifier(expected, size)}
}

// Read implements io.Reader.
func (v *VerifyReader) Read(p []byte) (int, error) {
	if v.size >= 0 && int64(len(p)) > v.size-v.n+1 {
		// Read at most one byte past the declared size, to detect trailing data.
		p = p[:v.size-v.n+1]
	}
	n, err := v.src.Read(p)
	if aerr := v.add(p[:n]); aerr != nil {
		return n, aerr
	}
	if errors.Is(err, io.EOF) {
		return n, v.check()
	}
	return n, err
}

// verifier hashes and counts content as it comes and judges it at its end
// against a digest and a size (size < 0: any).
type verifier struct {
	h        hash.Hash
	expected Digest
	size     int64
	n        int64
}

// newVerifier returns a verifier of content expected to be expected and size.
func newVerifier(expected Digest, size int64) verifier {
	return verifier{h: expected.Algorithm().New(), expected: expected, size: size}
}

// add hashes and counts p, failing once more than the declared size came.
func (v *verifier) add(p []byte) error {
	v.h.Write(p)
	v.n += int64(len(p))
	if v.size >= 0 && v.n > v.size {
		return fmt.Errorf("%w: content is longer than the declared %d bytes", ErrSizeMismatch, v.size)
	}
	return nil
}

// check returns io.EOF when everything added matches, else the mismatch.
func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, v.n, v.size)
	}
	if got := FromHash(v.expected.Algorithm(), v.h); got != v.expected {
		return fmt.Errorf("%w: content hashes to %s, expected %s", ErrDigestMismatch, got, v.expected)
	}
	return io.EOF
}

// Size returns how many bytes have been read so far.
func (v *VerifyReader) Size() int64 { return v.n }
