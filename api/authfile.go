package api

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Action is what a token may do in a repository.
type Action string

// The actions of a scope. Admin implies the other three; push implies pull
// (clients check for blobs before they upload them).
const (
	ActionPull   Action = "pull"
	ActionPush   Action = "push"
	ActionDelete Action = "delete"
	ActionAdmin  Action = "admin"
)

// ErrAuthFileInvalid: the auth file cannot be used (bad JSON, bad hash, unknown action, ...).
var ErrAuthFileInvalid = errors.New("auth file invalid")

// AuthFile is the --auth-file document (docs/auth.md):
//
//	{"tokens": [{"name": "ci", "hash": "sha256:SALT:HASH",
//	             "scopes": [{"repository": "team/*", "actions": ["pull", "push"]}]}],
//	 "anonymous_pull": ["public/*"]}
type AuthFile struct {
	Tokens        []TokenEntry `json:"tokens"`
	AnonymousPull []string     `json:"anonymous_pull,omitempty"`
}

// TokenEntry is one token: its name (logged, recorded as the principal), the
// salted hash of its secret (HashSecret) and its scopes.
type TokenEntry struct {
	Name   string  `json:"name"`
	Hash   string  `json:"hash"`
	Scopes []Scope `json:"scopes"`
}

// Scope grants actions in the repositories a pattern matches. In a pattern
// "*" matches any run of characters, "/" included: "team/*" matches
// "team/a" and "team/a/b"; "*" matches every repository.
type Scope struct {
	Repository string   `json:"repository"`
	Actions    []Action `json:"actions"`
}

// hashPrefix names the only hash scheme: sha256(salt || secret) with a
// 16-byte random salt. Tokens are random secrets, not passwords, so a slow
// hash would cost every request without adding strength.
const hashPrefix = "sha256"

// HashSecret returns the salted hash of secret to put in the auth file:
// "sha256:<salt hex>:<sha256(salt||secret) hex>".
func HashSecret(secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return hashWithSalt(salt, secret), nil
}

// hashWithSalt formats the hash of secret under salt.
func hashWithSalt(salt []byte, secret string) string {
	sum := saltedSum(salt, secret)
	return hashPrefix + ":" + hex.EncodeToString(salt) + ":" + hex.EncodeToString(sum[:])
}

// saltedSum is sha256(salt || secret).
func saltedSum(salt []byte, secret string) [sha256.Size]byte {
	return sha256.Sum256(append(append([]byte{}, salt...), secret...))
}

// storedHash is a parsed TokenEntry.Hash.
type storedHash struct {
	salt []byte
	sum  []byte
}

// parseHash parses "sha256:<salt hex>:<hash hex>".
func parseHash(s string) (storedHash, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != hashPrefix {
		return storedHash{}, fmt.Errorf("%w: hash %q is not sha256:SALT:HASH", ErrAuthFileInvalid, s)
	}
	salt, err1 := hex.DecodeString(parts[1])
	sum, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(sum) != sha256.Size {
		return storedHash{}, fmt.Errorf("%w: hash %q: salt or hash is not valid hex of the right length", ErrAuthFileInvalid, s)
	}
	return storedHash{salt: salt, sum: sum}, nil
}

// matches compares secret with the stored hash in constant time.
func (h storedHash) matches(secret string) bool {
	sum := saltedSum(h.salt, secret)
	return subtle.ConstantTimeCompare(sum[:], h.sum) == 1
}

// LoadAuth reads and checks an auth file.
func LoadAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f AuthFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt key would grant nothing, silently
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrAuthFileInvalid, err)
	}
	a, err := NewAuth(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// NewAuth checks f (unique non-empty names, parseable hashes, known
// actions, non-empty patterns that can match a repository name) and returns
// the authorizer it describes.
func NewAuth(f AuthFile) (*Auth, error) {
	a := &Auth{anonymous: grants{}}
	for _, p := range f.AnonymousPull {
		if p == "" {
			return nil, fmt.Errorf("%w: empty anonymous_pull pattern", ErrAuthFileInvalid)
		}
		if err := ValidateRepositoryPatterns([]string{p}); err != nil {
			return nil, fmt.Errorf("%w: anonymous_pull %w", ErrAuthFileInvalid, err)
		}
		a.anonymous = append(a.anonymous, grant{pattern: p, actions: actionSet{ActionPull: true}})
	}
	seen := map[string]bool{}
	for _, t := range f.Tokens {
		if t.Name == "" || seen[t.Name] {
			return nil, fmt.Errorf("%w: token name %q is empty or repeated", ErrAuthFileInvalid, t.Name)
		}
		seen[t.Name] = true
		tok, err := newToken(t)
		if err != nil {
			return nil, err
		}
		a.tokens = append(a.tokens, tok)
	}
	return a, nil
}

// newToken checks one entry.
func newToken(t TokenEntry) (token, error) {
	h, err := parseHash(t.Hash)
	if err != nil {
		return token{}, fmt.Errorf("token %q: %w", t.Name, err)
	}
	tok := token{name: t.Name, hash: h}
	for _, s := range t.Scopes {
		g, err := newGrant(s)
		if err != nil {
			return token{}, fmt.Errorf("token %q: %w", t.Name, err)
		}
		tok.grants = append(tok.grants, g)
	}
	return tok, nil
}

// newGrant expands a scope's actions (admin → all; push → pull too).
func newGrant(s Scope) (grant, error) {
	if s.Repository == "" {
		return grant{}, fmt.Errorf("%w: scope with an empty repository pattern", ErrAuthFileInvalid)
	}
	if err := ValidateRepositoryPatterns([]string{s.Repository}); err != nil {
		return grant{}, fmt.Errorf("%w: scope repository %w", ErrAuthFileInvalid, err)
	}
	set := actionSet{}
	for _, act := range s.Actions {
		switch act {
		case ActionAdmin:
			set[ActionPull], set[ActionPush], set[ActionDelete], set[ActionAdmin] = true, true, true, true
		case ActionPush:
			set[ActionPull], set[ActionPush] = true, true
		case ActionPull, ActionDelete:
			set[act] = true
		default:
			return grant{}, fmt.Errorf("%w: unknown action %q (want pull, push, delete or admin)", ErrAuthFileInvalid, act)
		}
	}
	return grant{pattern: s.Repository, actions: set}, nil
}

// actionSet is a set of actions.
type actionSet map[Action]bool

// grant is a checked scope.
type grant struct {
	pattern string
	actions actionSet
}

// grants are what one principal may do.
type grants []grant

// allows reports whether some grant whose pattern matches repo includes act.
func (gs grants) allows(repo string, act Action) bool {
	for _, g := range gs {
		if g.actions[act] && matchPattern(g.pattern, repo) {
			return true
		}
	}
	return false
}

// token is a checked TokenEntry.
type token struct {
	name   string
	hash   storedHash
	grants grants
}
