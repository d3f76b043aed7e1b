// Package s3 is the storage.Driver on an S3 bucket (AWS or any S3-compatible
// server such as versitygw). It is the only package that imports the AWS SDK;
// SDK errors never leave it.
//
// Objects are stored under an optional key prefix. Put sends a small object
// in one PutObject and a large one as a multipart upload that is completed
// only after the whole stream was read without error, and aborted otherwise.
// Versions are ETags; PutIf uses If-None-Match: * and If-Match: <etag>.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/normreg/normreg/storage"
)

// Defaults and bounds of Config.
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
	MinPartSize        = 5 << 20 // S3's smallest part but the last
	MaxPutObject       = 5 << 30 // S3's largest object sent with one PutObject
)

// Config says where the objects are and how large writes are sent.
type Config struct {
	Bucket      string
	Prefix      string // key prefix without leading or trailing "/"; "" for none
	Endpoint    string // e.g. http://127.0.0.1:9070; "" for AWS. Set: path-style requests
	Region      string // "" for the SDK's default chain (AWS_REGION, profile)
	PartSize    int64  // multipart part size in bytes; 0 for DefaultPartSize
	Concurrency int    // parts in flight (and part buffers) per Put; 0 for DefaultConcurrency
	// SinglePutMax is the largest object of known size that PutFresh streams
	// as one PutObject (above PartSize, at most MaxPutObject); 0 for none:
	// all go as Put.
	SinglePutMax int64
}

// ParseURL reads s3://BUCKET[/PREFIX][?endpoint=URL&region=R&part-size=BYTES&concurrency=N&single-put-max=BYTES].
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, fmt.Errorf("s3 storage URL: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return Config{}, fmt.Errorf("s3 storage URL %q: want s3://BUCKET/PREFIX", s)
	}
	q := u.Query()
	for name := range q {
		if !slices.Contains(urlParams, name) {
			return Config{}, fmt.Errorf("s3 storage URL: unknown parameter %q (known: %s)", name, strings.Join(urlParams, ", "))
		}
	}
	cfg := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if cfg.PartSize, err = intParam(q, "part-size"); err != nil {
		return Config{}, err
	}
	if cfg.SinglePutMax, err = intParam(q, "single-put-max"); err != nil {
		return Config{}, err
	}
	concurrency, err := intParam(q, "concurrency")
	cfg.Concurrency = int(concurrency)
	return cfg, err
}

// urlParams are the query parameters ParseURL knows.
var urlParams = []string{"endpoint", "region", "part-size", "concurrency", "single-put-max"}

// intParam reads an optional positive integer query parameter (0 when absent).
func intParam(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("s3 storage URL: %s=%q is not a positive integer", name, v)
	}
	return n, nil
}

// Driver stores objects in an S3 bucket.
type Driver struct {
	client       *s3.Client
	presign      *s3.PresignClient // for PresignGet, with client's endpoint and path style
	bucket       string
	prefix       string // "" or ending in "/"
	partSize     int64
	singlePutMax int64
	concurrency  int
}

var (
	_ storage.Driver      = (*Driver)(nil)
	_ storage.Redirector  = (*Driver)(nil)
	_ storage.FreshPutter = (*Driver)(nil)
)

// New connects to the bucket with credentials from the SDK's default chain
// and checks that it is reachable, returning an error that names the
// problem (connection refused, credentials rejected, no such bucket).
func New(ctx context.Context, cfg Config) (*Driver, error) {
	d, err := newDriver(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &d.bucket})
	if err != nil {
		return nil, describe(cfg, err)
	}
	return d, nil
}

// newDriver builds the driver and its client without contacting S3.
func newDriver(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 storage: no bucket")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3 storage: part size %d is below S3's minimum %d", cfg.PartSize, MinPartSize)
	}
	if cfg.SinglePutMax > MaxPutObject {
		return nil, fmt.Errorf("s3 storage: single-put-max %d is above S3's largest PutObject, %d", cfg.SinglePutMax, int64(MaxPutObject))
	}
	if cfg.SinglePutMax != 0 && cfg.SinglePutMax <= cfg.PartSize {
		return nil, fmt.Errorf("s3 storage: single-put-max %d is not above the part size %d, so no upload would use it (objects of one part go as one PutObject anyway)", cfg.SinglePutMax, cfg.PartSize)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	prefix, err := keyPrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		// One checksum mode everywhere: none beyond what an operation requires.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Driver{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket, prefix: prefix, partSize: cfg.PartSize, singlePutMax: cfg.SinglePutMax, concurrency: cfg.Concurrency}, nil
}

// keyPrefix returns the prefix of every key, "" or ending in "/", from a
// prefix with or without slashes around it. An empty, "." or ".."
// component is an error: an S3 server that keeps keys as file paths, such
// as versitygw, would store the keys under another prefix (a//b is a/b)
// or refuse them, so listings would miss what was stored.
func keyPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return "", fmt.Errorf(`s3 storage: prefix %q: want components joined by single slashes, none of them "." or ".."`, p)
		}
	}
	return p + "/", nil
}

// describe explains why the bucket could not be reached.
func describe(cfg Config, err error) error {
	where := fmt.Sprintf("s3 storage: bucket %q at %s", cfg.Bucket, orDefault(cfg.Endpoint, "AWS"))
	switch status := httpStatus(err); {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: connection refused, is the server running? %w", where, err)
	case status == 301 || status == 400:
		return fmt.Errorf("%s: bad request (wrong region %q or endpoint?): %w", where, cfg.Region, err)
	case status == 403:
		return fmt.Errorf("%s: access denied, check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE): %w", where, err)
	case status == 404:
		return fmt.Errorf("%s: no such bucket: %w", where, err)
	case strings.Contains(err.Error(), "credentials"):
		return fmt.Errorf("%s: no usable credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// httpStatus is the HTTP status of an S3 error response, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// mapErr turns S3's not-found and precondition errors, requests that
// could not be sent and S3's 5xx answers into the storage sentinels,
// wrapped with key.
func mapErr(key string, err error) error {
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	switch status := httpStatus(err); {
	case err == nil:
		return nil
	case errors.As(err, &noKey), errors.As(err, &notFound), status == 404:
		return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	case status == 412:
		return fmt.Errorf("%s: %w", key, storage.ErrPreconditionFailed)
	}
	return fmt.Errorf("%s: %w", key, unavailable(err))
}

// unavailable marks err with storage.ErrUnavailable when S3 could not
// serve the request for now (after the SDK's retries): a request the SDK
// could not send (the server is down or unreachable), or a 5xx answer
// (503 SlowDown or ServiceUnavailable, 500 InternalError), which S3 asks
// clients to retry.
func unavailable(err error) error {
	var notSent *smithyhttp.RequestSendError
	if errors.As(err, &notSent) || httpStatus(err) >= 500 {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// key is the object key of a storage key.
func (d *Driver) key(key string) string {
	return d.prefix + key
}
