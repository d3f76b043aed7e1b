package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

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
	var err error
	asNobody(t, root, func() { _, err = fs.New(root) })
	if err == nil || !strings.Contains(err.Error(), tmp+" is not writable") {
		t.Fatalf("New on a root with a read-only .tmp: %v, want an error naming %s", err, tmp)
	}
}

// TestOpenReadOnly: Open reads a root no directory of which may be written
// (a read-only copy, which registry scrub reads), where New stops; and a
// root that does not exist is an error, not a directory created.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "data")
	if err := newDriver(t, root).Put(ctx, "blobs/b", strings.NewReader("bytes"), 5); err != nil {
		t.Fatal(err)
	}
	chmodDirs(t, root, 0o555)
	t.Cleanup(func() { chmodDirs(t, root, 0o755) })
	var newErr, openErr, getErr, sweepErr error
	var got []byte
	asNobody(t, root, func() {
		_, newErr = fs.New(root)
		var d *fs.Driver
		if d, openErr = fs.Open(root); openErr == nil {
			got, _, getErr = d.Get(ctx, "blobs/b", 100)
			_, sweepErr = d.Sweep(ctx, time.Now(), false)
		}
	})
	if newErr == nil {
		t.Error("New on a read-only root succeeded; want it refused")
	}
	if openErr != nil || getErr != nil || string(got) != "bytes" || sweepErr != nil {
		t.Errorf("Open on a read-only root: %v; Get = %q, %v; Sweep: %v; want the stored bytes read", openErr, got, getErr, sweepErr)
	}
	if _, err := fs.Open(filepath.Join(root, "missing")); err == nil {
		t.Error("Open of a directory that does not exist succeeded")
	}
}

// chmodDirs sets the mode of every directory of the tree at root.
func chmodDirs(t *testing.T, root string, mode os.FileMode) {
	err := filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asNobody runs f, root being in a t.TempDir; as root it gives root's tree
// to nobody (65534) and runs f on a thread whose file-system user and group
// are nobody's, which drops root's power to write anywhere. The thread is
// never unlocked, so it ends with the goroutine.
func asNobody(t *testing.T, root string, f func()) {
	if os.Geteuid() != 0 {
		f()
		return
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
	done, dropped := make(chan struct{}), false
	go func() {
		defer close(done)
		runtime.LockOSThread()
		syscall.RawSyscall(syscall.SYS_SETFSGID, nobody, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, nobody, 0, 0)
		// An invalid id (-1) changes nothing and returns the current one.
		if cur, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, ^uintptr(0), 0, 0); cur == nobody {
			dropped = true
			f()
		}
	}()
	<-done
	if !dropped {
		t.Skip("root here cannot take another file-system uid (no CAP_SETUID), so nothing is unwritable to it")
	}
}
