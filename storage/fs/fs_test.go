package fs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
	"github.com/normreg/normreg/storage/storagetest"
)

func TestDriver(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		root := t.TempDir()
		d, err := fs.New(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { noTempFiles(t, root) })
		return d
	})
}

// noTempFiles fails the test if a temp file or a staged first chunk of an
// upload was left under root.
func noTempFiles(t *testing.T, root string) {
	left, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if err != nil || len(left) > 0 {
		t.Errorf("temp files left behind: %d (%v)", len(left), err)
	}
	if staged, err := os.ReadDir(filepath.Join(root, "uploads", "_staged")); !os.IsNotExist(err) {
		t.Errorf("staged chunks left behind: %d (%v)", len(staged), err)
	}
}
