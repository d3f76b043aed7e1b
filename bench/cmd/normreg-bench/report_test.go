package main

import (
	"bufio"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMedians merges repeated rows into their median in the first one's
// place, with the highest peak RSS, and leaves single rows alone.
func TestMedians(t *testing.T) {
	rep := Report{Rows: []Row{
		{Key: "a", Value: 3, ServerRSSMiB: 10},
		{Key: "b", Value: 7},
		{Key: "a", Value: 1, ServerRSSMiB: 30, ClientRSSMiB: 5},
		{Key: "a", Value: 2, ServerRSSMiB: 20},
		{Key: "c", Value: 9},
		{Key: "c", Value: 4},
	}}
	rep.medians()
	var keys []string
	for _, r := range rep.Rows {
		keys = append(keys, r.Key)
	}
	if !slices.Equal(keys, []string{"a", "b", "c"}) {
		t.Fatalf("rows %v, want a, b, c in first-seen order", keys)
	}
	a, b, c := rep.Rows[0], rep.Rows[1], rep.Rows[2]
	if a.Value != 2 || a.Runs != 3 || a.ServerRSSMiB != 30 || a.ClientRSSMiB != 5 {
		t.Errorf("a = %+v, want the median 2 of 3 runs, RSS 30 and 5", a)
	}
	if b.Value != 7 || b.Runs != 0 {
		t.Errorf("b = %+v, want the single run as it was", b)
	}
	if c.Value != 4 || c.Runs != 2 {
		t.Errorf("c = %+v, want the lower middle (4) of 2 runs", c)
	}
}

// TestReadHead reads status codes off pipelined HEAD answers and refuses
// what is not an HTTP/1.1 response.
func TestReadHead(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 512\r\nDocker-Content-Digest: sha256:x\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 98\r\n\r\n" + "SSH-2.0-nope\r\n\r\n"))
	for _, want := range []string{"200", "404"} {
		if got, err := readHead(br); err != nil || got != want {
			t.Fatalf("readHead = %q, %v; want %q", got, err, want)
		}
	}
	if got, err := readHead(br); err == nil {
		t.Fatalf("readHead of a non-HTTP line = %q, want an error", got)
	}
}

// TestTurn: every element goes first once in len(s) rounds, the order
// otherwise kept, and s itself is left as it was.
func TestTurn(t *testing.T) {
	s := []string{"a", "b", "c", "d"}
	for round, want := range []string{"abcd", "bcda", "cdab", "dabc", "abcd"} {
		if got := strings.Join(turn(s, round), ""); got != want {
			t.Errorf("turn(abcd, %d) = %s, want %s", round, got, want)
		}
	}
	if strings.Join(s, "") != "abcd" {
		t.Errorf("turn changed its argument to %v", s)
	}
}

// TestCompareNoCommonRows: comparing two runs that share no row (other
// sizes) is an error that says so, not an empty table.
func TestCompareNoCommonRows(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for path, key := range map[string]string{a: "1GiB/pull/x", b: "80MiB/pull/x"} {
		rep := &Report{}
		rep.add(Row{Key: key, Name: "pull x", Value: 1, Unit: "s"})
		if err := rep.save(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := compare([]string{a, b}); err == nil || !strings.Contains(err.Error(), "no rows in common") {
		t.Fatalf("compare of runs with no common row: %v", err)
	}
	if err := compare([]string{a, a}); err != nil {
		t.Fatalf("compare of a run with itself: %v", err)
	}
}
