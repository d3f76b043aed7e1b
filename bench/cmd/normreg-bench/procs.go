package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a registry process on a loopback port.
type server struct {
	name string
	addr string // host:port
	cmd  *exec.Cmd
	dir  string // its data directory, removed by stop ("" for none)
	done bool   // stopped
}

// freeAddr returns a loopback address with a free port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs argv (with extra environment) as server name listening
// on addr and waits until GET ready (a path such as /v2/) answers 200.
func startServer(ctx context.Context, name, addr, ready, dir string, env []string, argv ...string) (*server, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(filepath.Dir(dir), name+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, dir: dir}
	for range 200 {
		if resp, err := http.Get("http://" + addr + ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not answer on %s (see %s)", name, addr, logf.Name())
}

// stop ends the server and removes its data directory; again, it does nothing.
func (s *server) stop() {
	if s.done {
		return
	}
	s.done = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// resetPeak resets the server's peak RSS (VmHWM), so peakMiB covers what follows.
func (s *server) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// peakMiB is the server's peak RSS since the last resetPeak, in MiB (-1
// when it cannot be read).
func (s *server) peakMiB() float64 {
	kb, err := procKB(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid), "VmHWM")
	if err != nil {
		return -1
	}
	return float64(kb) / 1024
}

// procKB is the value of the line "key: N kB" of a /proc file such as
// /proc/meminfo or /proc/PID/status, in KiB.
func procKB(path, key string) (int64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s %q: %w", path, key, strings.TrimSpace(v), err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("%s has no %s line", path, key)
}

// timed is the wall time and peak RSS of one client command.
type timed struct {
	seconds float64
	rssMiB  float64
}

// runTimed runs argv in dir ("" for the current one) to completion and
// measures it; a failure includes its output.
func runTimed(ctx context.Context, dir string, env []string, argv ...string) (timed, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t := timed{seconds: time.Since(start).Seconds()}
	if err != nil {
		return t, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.rssMiB = float64(ru.Maxrss) / 1024
	}
	return t, nil
}
