package main

import (
	"os"
	"syscall"
)

// statKey returns the key of the file at abs with status st.
func statKey(abs string, st os.FileInfo) (fileKey, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{Path: abs, Dev: uint64(sys.Dev), Ino: uint64(sys.Ino), Size: st.Size(),
		MtimeNs: sys.Mtim.Nano(), CtimeNs: sys.Ctim.Nano()}, true
}
