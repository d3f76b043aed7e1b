package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMemFree(t *testing.T) {
	free, err := memFree()
	if err != nil {
		t.Fatal(err)
	}
	total, err := procKB("/proc/meminfo", "MemTotal")
	if err != nil {
		t.Fatal(err)
	}
	if free <= 0 || free > total<<10 {
		t.Errorf("memFree = %d bytes, want in (0, MemTotal = %d]", free, total<<10)
	}
}

// TestProcKB reads a key's kB value and names the file and key when the
// line is missing or not a number.
func TestProcKB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(path, []byte("Name:\tregistry\nVmPeak:\t  2048 kB\nVmHWM:\t  1536 kB\nVmRSS:\tlots kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if kb, err := procKB(path, "VmHWM"); err != nil || kb != 1536 {
		t.Errorf("procKB(VmHWM) = %d, %v; want 1536", kb, err)
	}
	if _, err := procKB(path, "VmRSS"); err == nil || !strings.Contains(err.Error(), `VmRSS "lots kB"`) {
		t.Errorf("procKB(VmRSS) error = %v, want one naming VmRSS and its value", err)
	}
	if _, err := procKB(path, "MemFree"); err == nil || !strings.Contains(err.Error(), "no MemFree line") {
		t.Errorf("procKB(MemFree) error = %v, want one saying the line is missing", err)
	}
}
