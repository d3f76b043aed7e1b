package artifact

import (
	"fmt"
	"math"
	"strings"
)

// Check runs every check of DESIGN.md's table on b and returns what they
// find, in a stable order: mode, scaler (missing, mismatch, invalid), then
// BatchNorm (missing, invalid, stale, mismatch, small batch). Facts left
// zero in b are either reported (no declared mode, no scaler) or skip the
// comparisons that need them (unknown input size, no parent). Digest
// mismatches are found by whoever fetches the blobs (DigestMismatchFinding).
func Check(b *Bundle) Findings {
	var fs Findings
	for _, check := range []func(*Bundle) Findings{
		checkMode, checkScalerMissing, checkScalerMismatch, checkScalerInvalid,
		checkBNMissing, checkBNInvalid, checkBNStale, checkBNMismatch, checkSmallBatch,
	} {
		fs = append(fs, check(b)...)
	}
	return fs
}

// refusal returns a refusing finding.
func refusal(id CheckID, fix, format string, args ...any) Finding {
	return Finding{ID: id, Severity: Refuse, Message: fmt.Sprintf(format, args...), Fix: fix}
}

// fixDamagedBlob is the fix of a blob whose stored bytes do not match its digest.
const fixDamagedBlob = "the registry's copy is damaged: its operator runs `registry scrub --remove` (README), then push the bundle again from the original files"

// DigestMismatchFinding reports that the blob what (e.g. "scaler layer"),
// stored or sent under digest d, does not match it; err says how.
func DigestMismatchFinding(what string, d Digest, err error) Finding {
	return refusal(DigestMismatch, fixDamagedBlob, "%s %s: %v", what, d, err)
}

// checkMode refuses a bundle exported in train mode or without a declared mode.
func checkMode(b *Bundle) Findings {
	switch b.Mode {
	case ModeEval:
		return nil
	case ModeTrain:
		return Findings{refusal(ModeTrained, "call model.eval() before exporting the weights and push with --mode eval",
			"the model was exported in train mode: BatchNorm would normalise each serving batch with its own statistics and dropout would stay on")}
	case ModeUnset:
		return Findings{refusal(ModeUnknown, "call model.eval() before exporting and push with --mode eval (or write normreg.mode=eval into the weights metadata)",
			"the bundle does not declare its mode; a state_dict does not record train or eval")}
	}
	return Findings{refusal(ModeUnknown, "push with --mode eval", "mode %q is neither eval nor train", b.Mode)}
}

// maxListed bounds how many items a message lists before "and N more".
const maxListed = 4

// list joins items, listing at most maxListed.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxListed], ", "), len(items)-maxListed)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// near reports whether a and b agree within a relative tolerance tol.
func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}
