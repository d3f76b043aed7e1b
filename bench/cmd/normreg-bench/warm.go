package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// warm is the warm subcommand: warmMemory(BYTES).
func warm(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: normreg-bench warm BYTES")
	}
	n, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	return warmMemory(n)
}

// warmMemory touches up to n bytes of new anonymous memory, a byte per page,
// and frees it, leaving at most all but 512 MiB of the free memory touched.
//
// On a virtual machine whose kernel hands free memory back to its host (free
// page reporting, as on the Firecracker VM in bench/RESULTS.md), the first
// write to such memory costs the host a page fault: a 4 GiB write into the
// page cache spent 9–13 s of system time there against 4–5 s into memory
// freed just before, whoever wrote it. A row's time then depended on whether
// the row before it had freed memory (a pull after a pull) or taken it (a
// pull after a push). Memory just freed is what the kernel hands out first,
// so after warmMemory a row finds warm memory, as on a machine without that
// cost, for about half of n (settle warms twice what a row writes); the
// touching itself is not timed.
func warmMemory(n int64) error {
	free, err := memFree()
	if err != nil {
		return err
	}
	n = min(n, free-512<<20)
	if n <= 0 {
		return nil
	}
	page := int64(os.Getpagesize())
	m, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("warming %d bytes of memory: %w", n, err)
	}
	for i := int64(0); i < n; i += page {
		m[i] = 1
	}
	return syscall.Munmap(m)
}

// memFree is MemFree from /proc/meminfo, in bytes.
func memFree() (int64, error) {
	kb, err := procKB("/proc/meminfo", "MemFree")
	return kb << 10, err
}
