// Command normreg-bench measures normreg beside what users would pick instead
// (oras, CNCF distribution, aws s3 cp, the AWS SDK), on the same machine and
// the same files, and prints one table with ratios (also written as JSON).
//
//	normreg-bench run -tools DIR -regctl BIN -registry BIN [-sizes 1GiB,4GiB] [-groups G,...] [-work DIR] [-json FILE]
//	normreg-bench compare A.json B.json
//	normreg-bench gen -size 1GiB -o DIR [-root CHECKOUT]   (a bench bundle, for profiling by hand)
//	normreg-bench resolve -url URL [-c 32] [-d 3s] [-lat FILE]   (the tag-resolve load alone; the run group starts it so)
//	normreg-bench s3put|s3get -file F -key K   (children of run: the direct SDK transfers)
//	normreg-bench warm BYTES   (a child of run: warms memory before a row, see warmMemory)
//
// run needs the S3 variables scripts/s3.sh prints (NORMREG_TEST_S3_ENDPOINT,
// NORMREG_TEST_S3_BUCKET, AWS_*). Everything listens on 127.0.0.1 only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := dispatch(ctx, os.Args[1:])
	if errors.Is(err, flag.ErrHelp) { // a subcommand's -h: its flags are printed
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "normreg-bench:", err)
		os.Exit(1)
	}
}

// usage lists the subcommands (the package comment says more).
const usage = `usage:
  normreg-bench run -tools DIR -regctl BIN -registry BIN [-sizes 1GiB,4GiB] [-groups G,...] [-json FILE]   (bench/run.sh runs it)
  normreg-bench compare A.json B.json
  normreg-bench gen -size SIZE -o DIR [-root CHECKOUT]   (a bundle of SIZE weights to push by hand)
  normreg-bench resolve -url URL [-c 32] [-d 3s]
normreg-bench SUBCOMMAND -h shows a subcommand's flags.`

// dispatch runs the subcommand args[0] with the rest of args.
func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no subcommand given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	case "run":
		return runBench(ctx, args[1:])
	case "compare":
		return compare(args[1:])
	case "gen":
		return gen(args[1:])
	case "resolve":
		return resolveLoad(ctx, args[1:])
	case "s3put":
		return s3Transfer(ctx, args[1:], s3Put)
	case "s3get":
		return s3Transfer(ctx, args[1:], s3Get)
	case "warm":
		return warm(args[1:])
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}
