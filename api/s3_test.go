package api_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/s3"
)

// s3Backend returns the S3 backend on a fresh prefix of the bucket that
// NORMREG_TEST_S3_ENDPOINT and NORMREG_TEST_S3_BUCKET name (eval "$(scripts/s3.sh start)"),
// or an unavailable backend when they are not set.
func s3Backend(t *testing.T) backend {
	endpoint, bucket := os.Getenv("NORMREG_TEST_S3_ENDPOINT"), os.Getenv("NORMREG_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		return backend{name: "s3", unavailable: `no S3 server: NORMREG_TEST_S3_ENDPOINT and NORMREG_TEST_S3_BUCKET are unset (eval "$(scripts/s3.sh start)")`}
	}
	cfg := s3.Config{
		Bucket: bucket, Endpoint: endpoint, Region: os.Getenv("AWS_REGION"),
		Prefix: fmt.Sprintf("api-test/%s-%d", t.Name(), time.Now().UnixNano()),
	}
	return backend{name: "s3", driver: func(t *testing.T) storage.Driver {
		d, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}}
}
