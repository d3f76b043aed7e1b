package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/storagetest"
)

// testConfig returns the test server's config with a fresh key prefix, or
// skips (fails when NORMREG_TEST_REQUIRE=1) without a server.
func testConfig(t *testing.T) Config {
	t.Helper()
	endpoint, bucket := os.Getenv("NORMREG_TEST_S3_ENDPOINT"), os.Getenv("NORMREG_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		const msg = `no S3 server: run eval "$(scripts/s3.sh start)"`
		if os.Getenv("NORMREG_TEST_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return Config{Bucket: bucket, Endpoint: endpoint, Prefix: "test-" + rand.Text(), PartSize: storagetest.PartSize, Concurrency: 2}
}

// TestDriver runs the driver contract without and with single-put-max (of
// three parts), so that PutFresh streams objects of known size beyond a part
// as one PutObject.
func TestDriver(t *testing.T) {
	for _, singlePutMax := range []int64{0, 3 * storagetest.PartSize} {
		t.Run(fmt.Sprint("single-put-max=", singlePutMax), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Driver {
				cfg := testConfig(t)
				cfg.SinglePutMax = singlePutMax
				d, err := New(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					noPendingUploads(t, d)
					removeAll(t, d)
				})
				return d
			})
		})
	}
}

// noPendingUploads fails the test if a multipart upload under d's prefix
// was neither completed nor aborted.
func noPendingUploads(t *testing.T, d *Driver) {
	out, err := d.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &d.bucket, Prefix: aws.String(d.prefix)})
	if err != nil {
		t.Errorf("ListMultipartUploads: %v", err)
		return
	}
	for _, up := range out.Uploads {
		t.Errorf("unfinished multipart upload of %s left behind", aws.ToString(up.Key))
	}
}

// removeAll deletes every object under d's prefix, so test runs do not
// fill the server.
func removeAll(t *testing.T, d *Driver) {
	ctx := context.Background()
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Errorf("listing %s: %v", d.prefix, err)
			return
		}
		for _, obj := range page.Contents {
			if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: obj.Key}); err != nil {
				t.Errorf("deleting %s: %v", aws.ToString(obj.Key), err)
			}
		}
	}
}

func TestNewNamesTheProblem(t *testing.T) {
	good := testConfig(t)
	ctx := context.Background()
	noBucket := good
	noBucket.Bucket = "no-such-bucket-" + strings.ToLower(hex.EncodeToString([]byte(rand.Text()[:4])))
	if _, err := New(ctx, noBucket); err == nil || !strings.Contains(err.Error(), "no such bucket") {
		t.Errorf("missing bucket: %v", err)
	}
	refused := good
	refused.Endpoint = "http://127.0.0.1:1"
	if _, err := New(ctx, refused); !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("nothing listening: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if _, err := New(ctx, good); err == nil || !strings.Contains(err.Error(), "check the credentials") {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	cfg, err := ParseURL("s3://models/reg/prod?endpoint=http://127.0.0.1:9070&region=eu-west-1&part-size=8388608&concurrency=2&single-put-max=1073741824")
	want := Config{Bucket: "models", Prefix: "reg/prod", Endpoint: "http://127.0.0.1:9070", Region: "eu-west-1", PartSize: 8 << 20, Concurrency: 2, SinglePutMax: 1 << 30}
	if err != nil || cfg != want {
		t.Fatalf("ParseURL = %+v, %v; want %+v", cfg, err, want)
	}
	if cfg, err := ParseURL("s3://models"); err != nil || cfg != (Config{Bucket: "models"}) {
		t.Fatalf("bucket only: %+v, %v", cfg, err)
	}
	for _, bad := range []string{"file:///x", "s3:///prefix", "s3://b?concurrency=0", "s3://b?part-size=big", "s3://b?single-put-max=-1", "s3://b?multipart-threshold=1"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestPrefixComponents(t *testing.T) {
	ctx := context.Background()
	for _, ok := range []string{"", "/", "reg/prod", "/reg/prod/", "a.b/.c"} {
		if _, err := newDriver(ctx, Config{Bucket: "b", Prefix: ok}); err != nil {
			t.Errorf("prefix %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"a//b", "a/./b", "../x", "a/.."} {
		if _, err := newDriver(ctx, Config{Bucket: "b", Prefix: bad}); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("prefix %q: %v, want an error naming it", bad, err)
		}
	}
}

func TestSinglePutMaxBound(t *testing.T) {
	ctx := context.Background()
	if _, err := newDriver(ctx, Config{Bucket: "b", SinglePutMax: MaxPutObject}); err != nil {
		t.Errorf("single-put-max of 5 GiB: %v", err)
	}
	if _, err := newDriver(ctx, Config{Bucket: "b", SinglePutMax: MaxPutObject + 1}); err == nil || !strings.Contains(err.Error(), "single-put-max") {
		t.Errorf("single-put-max beyond 5 GiB: %v", err)
	}
	if _, err := newDriver(ctx, Config{Bucket: "b", SinglePutMax: DefaultPartSize}); err == nil || !strings.Contains(err.Error(), "not above the part size") {
		t.Errorf("single-put-max of one part: %v", err)
	}
}
