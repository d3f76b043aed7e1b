package main

import (
	"fmt"
	"os"
	"testing"
)

func TestMemFree(t *testing.T) {
	free, err := memFree()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	if _, err := fmt.Sscanf(string(raw), "MemTotal: %d kB", &total); err != nil {
		t.Fatalf("/proc/meminfo: %v", err)
	}
	if free <= 0 || free > total<<10 {
		t.Errorf("memFree = %d bytes, want in (0, MemTotal = %d]", free, total<<10)
	}
}
