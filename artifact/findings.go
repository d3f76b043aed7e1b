package artifact

// CheckID is the stable id of a check, used in messages, --json output, docs and tests.
type CheckID string

// The checks of DESIGN.md's table.
const (
	ScalerMissing  CheckID = "scaler-missing"
	ScalerMismatch CheckID = "scaler-mismatch"
	ScalerInvalid  CheckID = "scaler-invalid"
	ModeTrained    CheckID = "mode-train"
	ModeUnknown    CheckID = "mode-unknown"
	BNMissing      CheckID = "bn-missing"
	BNInvalid      CheckID = "bn-invalid"
	BNStale        CheckID = "bn-stale"
	BNMismatch     CheckID = "bn-mismatch"
	DigestMismatch CheckID = "digest-mismatch"
	SmallBatch     CheckID = "small-batch"
)

// Severity says whether a finding refuses the bundle or only warns.
type Severity string

// Severities.
const (
	Refuse  Severity = "refuse"
	Warning Severity = "warning"
)

// Finding is one thing a check found: what is wrong, with the numbers
// involved, and how to fix it.
type Finding struct {
	ID       CheckID  `json:"id"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// String renders the finding on one line, as regctl prints it.
func (f Finding) String() string {
	s := string(f.Severity) + " " + string(f.ID) + ": " + f.Message
	if f.Fix != "" {
		s += " (fix: " + f.Fix + ")"
	}
	return s
}

// Findings is the outcome of checking a bundle.
type Findings []Finding

// Refused reports whether any finding refuses the bundle.
func (fs Findings) Refused() bool {
	for _, f := range fs {
		if f.Severity == Refuse {
			return true
		}
	}
	return false
}

// IDs returns the ids of the findings, in order.
func (fs Findings) IDs() []CheckID {
	ids := make([]CheckID, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}
