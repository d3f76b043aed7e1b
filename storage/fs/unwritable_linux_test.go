package fs_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/normreg/normreg/storage/fs"
)

// TestNewUnwritable: a root whose directories exist but may not be written
// (restored by another user, a read-only mount) stops New, naming the
// directory, rather than giving a driver whose every write fails. As root,
// who may write anywhere, New runs with the file-system identity of nobody.
func TestNewUnwritable(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	newDriver(t, root) // creates .tmp and .locks
	tmp := filepath.Join(root, ".tmp")
	if err := os.Chmod(tmp, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(tmp, 0o755) })
	_, err := newAsNobody(t, root)
	if err == nil || !strings.Contains(err.Error(), tmp+" is not writable") {
		t.Fatalf("New on a root with a read-only .tmp: %v, want an error naming %s", err, tmp)
	}
}

// newAsNobody runs fs.New(root), root being in a t.TempDir; as root it
// gives root's tree to nobody (65534) and runs New on a thread whose file-system user and group are
// nobody's, which drops root's power to write anywhere. The thread is never
// unlocked, so it ends with the goroutine.
func newAsNobody(t *testing.T, root string) (*fs.Driver, error) {
	if os.Geteuid() != 0 {
		return fs.New(root)
	}
	const nobody = 65534
	for _, dir := range []string{filepath.Dir(root), filepath.Dir(filepath.Dir(root))} { // t.TempDir's, 0700
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		d   *fs.Driver
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		syscall.RawSyscall(syscall.SYS_SETFSGID, nobody, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, nobody, 0, 0)
		d, err := fs.New(root)
		done <- result{d, err}
	}()
	r := <-done
	return r.d, r.err
}
