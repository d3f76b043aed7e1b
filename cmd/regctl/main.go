// Command regctl pushes, pulls and checks normreg model bundles on any OCI
// registry. Deploy scripts depend on its contract (DESIGN.md "regctl
// contract"): stdout stays parseable, findings go to stderr (or stdout with
// --json), and it exits 0 on success, 1 on an error, 3 when a check refuses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// main runs the command until it ends or SIGINT or SIGTERM (what CI
// cancellation, timeout(1) and Kubernetes send) cancels it, so that a
// stopped pull still removes its temp dir.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newGlobalOptions(os.Stdin, os.Stdout, os.Stderr, os.Getenv, isTerminal(os.Stderr)))
	stop()
	os.Exit(code)
}

// command is one regctl verb: its flags and what it does with the arguments
// left after them.
type command struct {
	name  string
	usage string // the synopsis after "regctl "
	flags *flag.FlagSet
	run   func(ctx context.Context, args []string) error
}

// commands returns every command, wired to g.
func commands(g *globalOptions) []*command {
	return []*command{
		newPushCommand(g), newPullCommand(g), newVerifyCommand(g), newInspectCommand(g),
		newResolveCommand(g), newTagCommand(g), newTagsCommand(g), newLsCommand(g), newLoginCommand(g),
		newDiffCommand(g), newSkewCommand(g), newStandardizeCommand(g), newServeCommand(g),
	}
}

// run executes one regctl invocation and returns its exit status. A failure
// is printed once, to stderr.
func run(ctx context.Context, args []string, g *globalOptions) int {
	err := dispatch(ctx, args, g)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(g.stderr, "regctl: %v\n", err)
	var fatal *fatalError
	if errors.As(err, &fatal) {
		return fatal.code
	}
	return exitError
}

// dispatch finds the command named by args[0], parses its flags and runs it.
func dispatch(ctx context.Context, args []string, g *globalOptions) error {
	cmds := commands(g)
	if len(args) == 0 {
		usage(g.stderr, cmds)
		return usageError("no command given")
	}
	if args[0] == "help" && len(args) > 2 {
		usage(g.stderr, cmds)
		return usageError("help takes at most one command, got %q", args[1:])
	}
	if args[0] == "help" && len(args) == 2 { // regctl help CMD is regctl CMD --help
		args = []string{args[1], "--help"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(g.stdout, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			pos, err := parseFlags(c, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(g.stdout, "usage: regctl %s\n", c.usage)
				printFlags(g.stdout, c.flags)
				return nil
			}
			if err != nil {
				return err
			}
			return c.run(ctx, pos)
		}
	}
	usage(g.stderr, cmds)
	return usageError("unknown command %q", args[0])
}

// usage lists the commands' synopses.
func usage(w io.Writer, cmds []*command) {
	fmt.Fprintln(w, "usage:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  regctl %s\n", c.usage)
	}
	fmt.Fprintln(w, "REF is [host[:port]/]repo[:tag|@sha256:hex]; the default host is $REGCTL_REGISTRY.")
	fmt.Fprintln(w, "regctl help COMMAND (or regctl COMMAND --help) shows a command's flags.")
}

// printFlags is flag.PrintDefaults with the flags spelt as the usage lines
// and the README spell them (either works): --name, and -o for a one-letter
// name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok && strings.IndexAny(name, " \n") > 1 {
			line = "  --" + name
		}
		io.WriteString(w, line)
	}
}

// parseFlags parses c's flags wherever they appear among args (so
// "pull REF -o DIR" works) and returns the positional arguments, or
// flag.ErrHelp for -h or --help.
func parseFlags(c *command, args []string) ([]string, error) {
	c.flags.SetOutput(io.Discard)
	var pos []string
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%v (usage: regctl %s)", err, c.usage)
		}
		args = c.flags.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// listed renders arguments for a message: ": a b", or nothing when there are none.
func listed(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return ": " + strings.Join(args, " ")
}

// wantArgs checks the number of positional arguments.
func wantArgs(c string, args []string, n int) error {
	if len(args) != n {
		return usageError("%s takes %d argument(s), got %d%s (regctl %s --help shows its usage)", c, n, len(args), listed(args), c)
	}
	return nil
}
