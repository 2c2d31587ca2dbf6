// Package s3test serves an S3-compatible bucket on a loopback listener
// for tests: github.com/johannesboyne/gofakes3, an S3 server speaking
// the real REST protocol over HTTP (signed requests, multipart uploads,
// delimiter listings), on an in-memory backend. No S3 or MinIO server can
// be had where the tests run; the client under test is the production one
// (gocloud.dev/blob/s3blob over aws-sdk-go-v2).
package s3test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is one fake S3 endpoint holding one bucket.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Bucket   string
	Backend  *s3mem.Backend
}

// URL is the --backups URL of the bucket, under prefix when not "".
func (s *Server) URL(prefix string) string {
	u := "s3://" + s.Bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u + "?region=us-east-1&use_path_style=true&endpoint=" + s.Endpoint
}

// Start serves a bucket until the test ends, and sets dummy AWS
// credentials in the environment (so the test cannot run in parallel).
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(be).Server()) // 127.0.0.1 only
	t.Cleanup(ts.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "lethe-test", "AWS_SECRET_ACCESS_KEY": "lethe-test", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
	} {
		t.Setenv(k, v)
	}
	return &Server{Endpoint: ts.URL, Bucket: bucket, Backend: be}
}
