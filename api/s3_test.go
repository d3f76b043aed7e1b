package api_test

import (
	"testing"
)

// s3Backend returns the S3 backend on a fresh prefix of the bucket that
// NORMREG_TEST_S3_* name (scripts/s3.sh start).
func s3Backend(t *testing.T) backend {
	return backend{name: "s3", unavailable: "storage/s3 is not built yet"}
}
