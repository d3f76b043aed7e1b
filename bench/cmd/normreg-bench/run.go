package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// bench is one run's configuration and report.
type bench struct {
	root     string // the normreg checkout (for the fixture)
	work     string // scratch directory, emptied as the run goes
	tools    string // directory of oras and distribution (scripts/tools.sh)
	regctl   string // the regctl binary
	registry string // normreg's registry binary
	self     string // this binary (children run its s3put/s3get)
	s3       s3Config
	rep      Report
	caches   int  // digest-cache directories made (coldCache)
	warm     bool // warm memory before each measured row (settle)
}

// runBench parses run's flags, runs every group and prints and saves the table.
func runBench(ctx context.Context, args []string) error {
	b := &bench{}
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	fl.StringVar(&b.root, "root", ".", "the normreg checkout")
	fl.StringVar(&b.work, "work", "", "scratch directory (default: a new one under $TMPDIR, removed after)")
	fl.StringVar(&b.tools, "tools", "", "directory holding oras and distribution (scripts/tools.sh prints it)")
	fl.StringVar(&b.regctl, "regctl", "", "regctl binary")
	fl.StringVar(&b.registry, "registry", "", "normreg registry binary")
	sizes := fl.String("sizes", "1GiB,4GiB", "weights sizes for the push/pull groups")
	verifySizes := fl.String("verify-sizes", "16MiB,256MiB,1GiB", "bundle sizes for regctl verify/pull timing")
	groups := fl.String("groups", groupNames, "groups to run, comma-separated")
	repeat := fl.Int("repeat", 1, "run the transfer group this many times; its rows give the median")
	jsonOut := fl.String("json", "bench.json", "where to write the report as JSON")
	fl.BoolVar(&b.warm, "warm", true, "before each measured row, touch and free twice as much memory as it writes (see settle); false: a row finds memory as the rows before it left it")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if err := b.setup(); err != nil {
		return err
	}
	defer os.RemoveAll(b.work)
	if *repeat < 1 {
		return fmt.Errorf("-repeat must be at least 1")
	}
	if err := b.all(ctx, *groups, *sizes, *verifySizes, *repeat); err != nil {
		return err
	}
	b.rep.medians()
	b.rep.fillRatios()
	b.rep.print(os.Stdout)
	return b.rep.save(*jsonOut)
}

// setup checks the configuration and fills the defaults.
func (b *bench) setup() error {
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.s3, err = s3FromEnv(); err != nil {
		return err
	}
	for _, p := range []*string{&b.regctl, &b.registry, &b.root} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "normreg-bench-"); err != nil {
			return err
		}
	}
	b.rep.Machine = machine()
	if !b.warm {
		b.rep.Machine += ", -warm=false"
	}
	// regctl's digest cache goes under the scratch directory, not the user's.
	return os.Setenv("XDG_CACHE_HOME", filepath.Join(b.work, "cache"))
}

// groupNames are the groups of a run, in order (the -groups flag).
const groupNames = "transfer,resolve,serve,verify,dedup,load"

// all runs the named groups (a comma-separated subset of groupNames) in
// turn, the transfer group repeat times.
func (b *bench) all(ctx context.Context, groups, sizes, verifySizes string, repeat int) error {
	ss, err := parseSizes(sizes)
	if err != nil {
		return err
	}
	vs, err := parseSizes(verifySizes)
	if err != nil {
		return err
	}
	run := map[string]func() error{
		"transfer": func() error {
			for round := range repeat {
				for _, size := range ss {
					if err := b.sizeGroups(ctx, size, round); err != nil {
						return err
					}
				}
			}
			return nil
		},
		"resolve": func() error { return b.resolveGroup(ctx) },
		"serve":   func() error { return b.serveGroup(ctx) },
		"verify":  func() error { return b.verifyGroup(ctx, vs) },
		"dedup":   func() error { return b.dedupGroup(ctx) },
		"load":    func() error { return b.loadGroup(ctx, ss, repeat) },
	}
	for g := range strings.SplitSeq(groups, ",") {
		f, ok := run[g]
		if !ok {
			return fmt.Errorf("unknown group %q (want some of %s)", g, groupNames)
		}
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// sizeGroups runs the floor, the 2×2 and the S3 group on one weights file,
// their rows in round's turn (see matrix).
func (b *bench) sizeGroups(ctx context.Context, size int64, round int) error {
	files, remove, err := b.scratchBundle(size, uint64(size))
	defer remove()
	if err != nil {
		return err
	}
	label := sizeLabel(size)
	if err := b.floor(label, files); err != nil {
		return err
	}
	if err := b.matrix(ctx, label, files, round); err != nil {
		return err
	}
	return b.s3Group(ctx, label, files, round)
}

// parseSizes reads a comma-separated list of sizes such as "16MiB,1GiB".
func parseSizes(s string) ([]int64, error) {
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		num, unit := f, int64(1)
		for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
			if n, ok := strings.CutSuffix(f, suffix); ok {
				num, unit = n, m
			}
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q (want e.g. 256MiB or 4GiB)", f)
		}
		out = append(out, int64(n*float64(unit)))
	}
	return out, nil
}

// sizeLabel writes a size as GiB or MiB.
func sizeLabel(n int64) string {
	if n >= 1<<30 {
		return strconv.FormatFloat(float64(n)/(1<<30), 'g', 3, 64) + "GiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'g', 3, 64) + "MiB"
}

// machine describes the CPU, core count and memory.
func machine() string {
	cpu, mem := "unknown CPU", ""
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem, _, _ = strings.Cut(string(raw), "\n")
		mem = strings.Join(strings.Fields(mem), " ")
	}
	return fmt.Sprintf("%s, %d cores, %s, %s", cpu, runtime.NumCPU(), mem, runtime.Version())
}
