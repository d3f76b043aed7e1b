package writeback

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE of <linux/fs.h>, which the
// syscall package does not name: start writing the range's dirty pages.
const syncFileRangeWrite = 0x2

// startWriteback asks the kernel to start writing n bytes of f from off to
// disk (sync_file_range SYNC_FILE_RANGE_WRITE), without waiting. It is
// advice: an error here is left to the fsync that follows.
func startWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite) })
	}
}
