//go:build !linux

package writeback

import (
	"errors"
	"os"
)

// errNoDirect: direct I/O is only used on Linux.
var errNoDirect = errors.New("direct I/O is not used on this system")

// setDirect refuses direct I/O: files are written through the page cache.
func setDirect(*os.File, bool) error { return errNoDirect }

// isInvalid is never true where no write is direct.
func isInvalid(error) bool { return false }
