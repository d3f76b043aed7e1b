package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/normreg/normreg/storage"
)

// scrub is `registry scrub [--storage URL] [--upload-ttl D] [--remove]`: it
// hashes every blob in the storage and prints a line for each whose bytes
// no longer match its digest, then one for each orphan blob data object
// (storage.OrphanData) older than the upload TTL, and counts the unfinished
// writes as old (storage.Sweeper); with --remove it deletes the corrupt
// blobs' bytes, so that the next push of each stores it again, the orphans
// and the unfinished writes. It fails when it found a corrupt blob, so that
// a cron job notices; orphans are only wasted space. It may run while
// registries serve the storage, given the TTL they run with.
func scrub(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("scrub", flag.ContinueOnError)
	fl.SetOutput(stderr)
	url := fl.String("storage", cmp.Or(getenv("REGISTRY_STORAGE"), defaultStorage), storageUsage)
	ttl := fl.Duration("upload-ttl", defaultUploadTTL, "the registries' --upload-ttl: orphan blob data written since is left alone (REGISTRY_UPLOAD_TTL)")
	remove := fl.Bool("remove", false, "delete the bytes of corrupt blobs, so that the next push of each stores it again, orphan blob data and unfinished writes")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("scrub: unexpected arguments %q", fl.Args())
	}
	if err := setUnlessGiven(fl, getenv, map[string]envValue{"upload-ttl": uploadTTLEnv}); err != nil {
		return err
	}
	if err := checkUploadTTL(*ttl); err != nil {
		return err
	}
	driver, err := openDriver(ctx, *url, !*remove)
	if err != nil {
		return err
	}
	blobs := storage.New(driver).Blobs
	corrupt := 0
	checked, err := blobs.Scrub(ctx, *remove, func(c storage.CorruptBlob) {
		corrupt++
		fmt.Fprintf(stdout, "%s %s: %v\n", state(c.Removed, "corrupt"), c.Digest, c.Err)
	})
	var left leftovers
	if err == nil {
		left, err = findLeftovers(ctx, blobs, driver, time.Now().Add(-*ttl), *remove, stdout)
	}
	done := ""
	if *remove && left.orphans+left.unfinished > 0 {
		done = ", removed"
	}
	fmt.Fprintf(stderr, "scrub: %d blobs checked, %d corrupt; %d orphan blob data objects (%d bytes) and %d unfinished writes (temp files, multipart uploads) older than %s%s\n",
		checked, corrupt, left.orphans, left.orphanBytes, left.unfinished, *ttl, done)
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

// leftovers is what writes cut off left behind.
type leftovers struct {
	orphans     int   // blob data named by no blob and no upload session
	orphanBytes int64 // their size
	unfinished  int   // temp files or multipart uploads no Put will finish
}

// findLeftovers counts, and with remove removes, what cut-off writes left
// that is older than before: orphan blob data of blobs, on driver (a line
// each on stdout), and, where driver is a storage.Sweeper, unfinished writes.
func findLeftovers(ctx context.Context, blobs *storage.Blobs, driver storage.Driver, before time.Time, remove bool, stdout io.Writer) (leftovers, error) {
	var left leftovers
	err := blobs.ScrubData(ctx, before, remove, func(o storage.OrphanData) {
		left.orphans++
		left.orphanBytes += o.Size
		fmt.Fprintf(stdout, "%s %s: %d bytes, written %s, named by no blob and no upload\n",
			state(o.Removed, "orphan"), o.Key, o.Size, o.Modified.UTC().Format(time.RFC3339))
	})
	if sw, ok := driver.(storage.Sweeper); ok && err == nil {
		left.unfinished, err = sw.Sweep(ctx, before, remove)
	}
	return left, err
}

// state is how scrub names what it found: as found, or "removed".
func state(removed bool, found string) string {
	if removed {
		return "removed"
	}
	return found
}
