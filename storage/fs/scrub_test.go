package fs_test

import (
	"testing"

	"github.com/normreg/normreg/storage/storagetest"
)

// TestScrub runs the scrub check on the fs driver with Move (an upload is
// moved into place) and without (committed by reference, as on S3).
func TestScrub(t *testing.T) {
	for name, byRef := range map[string]bool{"move": false, "no-move": true} {
		t.Run(name, func(t *testing.T) { storagetest.Scrub(t, drivers(t, t.TempDir())[name], byRef) })
	}
}

// TestOrphans runs the orphan blob data check on the fs driver without
// Move, where uploads' first chunks are blob data, as on S3.
func TestOrphans(t *testing.T) {
	storagetest.Orphans(t, drivers(t, t.TempDir())["no-move"])
}
