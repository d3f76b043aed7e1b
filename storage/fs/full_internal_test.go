package fs

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/normreg/normreg/storage"
)

// TestFullIsErrFull: a write the filesystem refuses for want of space (a
// real ENOSPC, from /dev/full; EDQUOT) is storage.ErrFull, keeping the
// system's error; any other error is not.
func TestFullIsErrFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("no /dev/full to fail a write with ENOSPC: %v", err)
	}
	defer f.Close()
	_, noSpace := f.Write([]byte("x"))
	for _, err := range []error{noSpace, &os.PathError{Op: "open", Path: "/srv/.locks/x", Err: syscall.EDQUOT}} {
		if got := full(err); !errors.Is(got, storage.ErrFull) || !errors.Is(got, err) {
			t.Errorf("full(%v) = %v, want storage.ErrFull wrapping it", err, got)
		}
	}
	if got := full(os.ErrPermission); errors.Is(got, storage.ErrFull) {
		t.Errorf("full(%v) = %v, want it unmarked", os.ErrPermission, got)
	}
}
