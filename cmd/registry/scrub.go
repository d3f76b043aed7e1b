package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/normreg/normreg/storage"
)

// scrub is `registry scrub [--storage URL] [--remove]`: it hashes every
// blob in the storage, prints a line for each whose bytes no longer match
// its digest, and with --remove deletes their bytes so that the next push
// of each stores it again. It fails when it found one, so that a cron job
// notices. It may run while registries serve the storage.
func scrub(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("scrub", flag.ContinueOnError)
	fl.SetOutput(stderr)
	url := fl.String("storage", cmp.Or(getenv("REGISTRY_STORAGE"), defaultStorage), storageUsage)
	remove := fl.Bool("remove", false, "delete the bytes of corrupt blobs, so that the next push of each stores it again")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("scrub: unexpected arguments %q", fl.Args())
	}
	driver, err := openDriver(ctx, *url)
	if err != nil {
		return err
	}
	corrupt := 0
	checked, err := storage.New(driver).Blobs.Scrub(ctx, *remove, func(c storage.CorruptBlob) {
		corrupt++
		state := "corrupt"
		if c.Removed {
			state = "removed"
		}
		fmt.Fprintf(stdout, "%s %s: %v\n", state, c.Digest, c.Err)
	})
	fmt.Fprintf(stderr, "scrub: %d blobs checked, %d corrupt\n", checked, corrupt)
	switch {
	case err != nil:
		return err
	case corrupt > 0 && !*remove:
		return fmt.Errorf("%d corrupt blob(s): run scrub --remove, then push the bundles that hold them again", corrupt)
	case corrupt > 0:
		return fmt.Errorf("%d corrupt blob(s) removed: push the bundles that hold them again", corrupt)
	}
	return nil
}
