package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/normreg/normreg/artifact"
)

// Tags maps tags to manifest digests. A tag is moved in two compare-and-swap
// steps, so that concurrent movers on any number of processes lose no update
// and every move stays in the history:
//
//  1. read the tag's state (digest and move count s) and its version;
//  2. create the move record s+1 in the tag's log with PutIf(""); if it
//     exists already, another mover won: apply that record (step 3 on its
//     behalf) and start again;
//  3. set the state to (new digest, s+1) with PutIf(version); if that fails,
//     someone else already applied the record.
//
// A mover that stops between 2 and 3 (its client gets an error) leaves a
// record that the next mover applies; until then Resolve returns the
// previous digest and History leaves the record out. A deleted tag
// keeps its state with an empty digest, so its move count lives on.
type Tags struct{ d Driver }

// TagMove is one recorded change of a tag.
type TagMove struct {
	Tag  string          `json:"tag"`
	From artifact.Digest `json:"from,omitempty"`
	To   artifact.Digest `json:"to,omitempty"` // empty: deleted
	By   string          `json:"by,omitempty"`
	At   time.Time       `json:"at"`
}

// tagState is a tag's current object: where it points ("" once deleted) and
// how many moves have been applied.
type tagState struct {
	Digest artifact.Digest `json:"digest,omitempty"`
	Seq    int64           `json:"seq"`
}

// checkRepoTag validates a repository name and a tag before they are made into keys.
func checkRepoTag(repo, tag string) error {
	if err := artifact.ValidateRepository(repo); err != nil {
		return err
	}
	return artifact.ValidateTag(tag)
}

// Resolve returns the digest tag points to, or ErrManifestUnknown.
func (t *Tags) Resolve(ctx context.Context, repo, tag string) (artifact.Digest, error) {
	if err := checkRepoTag(repo, tag); err != nil {
		return "", err
	}
	st, _, err := t.state(ctx, repo, tag)
	if err == nil && st.Digest == "" {
		err = fmt.Errorf("%s:%s: %w", repo, tag, ErrManifestUnknown)
	}
	return st.Digest, err
}

// state reads the tag's state and version; an unknown tag has the zero
// state and version "".
func (t *Tags) state(ctx context.Context, repo, tag string) (tagState, string, error) {
	key := tagKey(repo, tag)
	data, version, err := t.d.Get(ctx, key, maxLinkSize)
	if errors.Is(err, ErrNotFound) {
		return tagState{}, "", nil
	}
	if err != nil {
		return tagState{}, "", err
	}
	st, ok := parseSetTagState(data)
	if !ok {
		if err := json.Unmarshal(data, &st); err != nil {
			return tagState{}, "", fmt.Errorf("%s: %w", key, err)
		}
	}
	return st, version, nil
}

// parseSetTagState reads, without reflection, the state of a set tag in
// the form apply writes it, {"digest":"<digest>","seq":<n>}; ok is false
// for any other form, which json.Unmarshal then reads.
func parseSetTagState(data []byte) (st tagState, ok bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"digest":"`))
	if !ok {
		return tagState{}, false
	}
	d, rest, ok := bytes.Cut(rest, []byte(`","seq":`))
	if !ok || bytes.ContainsAny(d, `\"`) {
		return tagState{}, false
	}
	seq, ok := bytes.CutSuffix(rest, []byte("}"))
	if !ok {
		return tagState{}, false
	}
	n, err := strconv.ParseInt(string(seq), 10, 64)
	return tagState{Digest: artifact.Digest(d), Seq: n}, err == nil
}

// Set points tag at d. allow, when non-nil, is called with the current
// digest ("" when unset) inside the compare-and-swap and may veto the move
// (for example ErrTagImmutable). Concurrent setters never lose an update.
func (t *Tags) Set(ctx context.Context, repo, tag string, d artifact.Digest, by string, allow func(old artifact.Digest) error) error {
	if err := checkRepoDigest(repo, d); err != nil {
		return err
	}
	if err := artifact.ValidateTag(tag); err != nil {
		return err
	}
	return t.move(ctx, repo, tag, d, by, allow)
}

// Delete removes tag (recorded as a move to ""); ErrManifestUnknown if unset.
func (t *Tags) Delete(ctx context.Context, repo, tag, by string, allow func(old artifact.Digest) error) error {
	if err := checkRepoTag(repo, tag); err != nil {
		return err
	}
	return t.move(ctx, repo, tag, "", by, func(old artifact.Digest) error {
		if old == "" {
			return fmt.Errorf("%s:%s: %w", repo, tag, ErrManifestUnknown)
		}
		if allow == nil {
			return nil
		}
		return allow(old)
	})
}

// move records a move of tag to `to` in its log and applies it, as the
// Tags doc describes.
func (t *Tags) move(ctx context.Context, repo, tag string, to artifact.Digest, by string, allow func(old artifact.Digest) error) error {
	for {
		st, version, err := t.state(ctx, repo, tag)
		if err != nil {
			return err
		}
		if allow != nil {
			if err := allow(st.Digest); err != nil {
				return err
			}
		}
		rec, err := json.Marshal(TagMove{Tag: tag, From: st.Digest, To: to, By: by, At: time.Now().UTC()})
		if err != nil {
			return err
		}
		_, err = t.d.PutIf(ctx, tagLogKey(repo, tag, st.Seq+1), rec, "")
		if err == nil {
			return t.apply(ctx, repo, tag, tagState{Digest: to, Seq: st.Seq + 1}, version)
		}
		if !errors.Is(err, ErrPreconditionFailed) {
			return err
		}
		if err := t.rollForward(ctx, repo, tag, st.Seq+1, version); err != nil {
			return err
		}
	}
}

// rollForward applies the recorded move seq to a state still at version.
func (t *Tags) rollForward(ctx context.Context, repo, tag string, seq int64, version string) error {
	var rec TagMove
	if _, err := getJSON(ctx, t.d, tagLogKey(repo, tag, seq), &rec); err != nil {
		return err
	}
	return t.apply(ctx, repo, tag, tagState{Digest: rec.To, Seq: seq}, version)
}

// apply sets the tag's state to next if the state is still at version. If
// it is not, another mover has applied next (or later moves) already.
func (t *Tags) apply(ctx context.Context, repo, tag string, next tagState, version string) error {
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	_, err = t.d.PutIf(ctx, tagKey(repo, tag), data, version)
	if errors.Is(err, ErrPreconditionFailed) {
		return nil
	}
	return err
}

// List returns repo's tags in byte order, after `after`, at most n. It
// reads each listed tag's state to leave deleted tags out.
func (t *Tags) List(ctx context.Context, repo, after string, n int) ([]string, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return nil, err
	}
	tags := []string{}
	for len(tags) < n {
		names, err := t.d.List(ctx, tagsDir(repo), after, n-len(tags))
		if err != nil || len(names) == 0 {
			return tags, err
		}
		for _, name := range names {
			st, _, err := t.state(ctx, repo, name)
			if err != nil {
				return nil, err
			}
			if st.Digest != "" {
				tags = append(tags, name)
			}
		}
		after = names[len(names)-1]
	}
	return tags, nil
}

// History returns the moves of tag that were applied, oldest first. A
// move recorded but not applied (its mover failed, or is still at it) is
// left out: it has not happened, and happens only if the next mover
// applies it (see Tags).
func (t *Tags) History(ctx context.Context, repo, tag string) ([]TagMove, error) {
	if err := checkRepoTag(repo, tag); err != nil {
		return nil, err
	}
	st, _, err := t.state(ctx, repo, tag)
	if err != nil {
		return nil, err
	}
	dir := tagLogDir(repo, tag)
	moves := []TagMove{}
	err = listAll(ctx, t.d, dir, func(name string) error {
		var rec TagMove
		_, err := getJSON(ctx, t.d, dir+name, &rec)
		moves = append(moves, rec)
		return err
	})
	if int64(len(moves)) > st.Seq {
		moves = moves[:st.Seq]
	}
	return moves, err
}
