package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/backup/s3test"
)

// objects returns the keys and contents stored in the fake bucket.
func objects(t *testing.T, s3 *s3test.Server) map[string][]byte {
	t.Helper()
	res, err := s3.Backend.ListBucket(s3.Bucket, nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, o := range res.Contents {
		obj, err := s3.Backend.GetObject(s3.Bucket, o.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		out[o.Key] = b
	}
	return out
}

// A backup written to an S3-compatible bucket (the real S3 protocol over
// loopback HTTP) lists, verifies, restores and prunes as a folder's does;
// a changed object is found, and the objects hold no plaintext.
func TestBucket_CreateListVerifyRestorePrune(t *testing.T) {
	s3 := s3test.Start(t, "lethe-backups")
	ctx := context.Background()
	data := t.TempDir()
	seed(t, data, 2000)
	where := s3.URL("prod")
	old := time.Now().Add(-61 * 24 * time.Hour)
	mOld, err := backup.Create(ctx, backup.Options{Dir: where, Temp: data, Sources: sources(data), Wrapper: kek(t, 1), Now: func() time.Time { return old }})
	if err != nil {
		t.Fatalf("Create (old): %v", err)
	}
	m, err := backup.Create(ctx, backup.Options{Dir: where, Temp: data, Sources: sources(data), Wrapper: kek(t, 1)})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	objs := objects(t, s3)
	for _, key := range []string{"prod/" + m.ID + "/manifest.json", "prod/" + m.ID + "/lethe.db.enc", "prod/" + m.ID + "/lethe-manager-log.db.enc"} {
		if _, ok := objs[key]; !ok {
			t.Fatalf("no object %s in %v", key, keys(objs))
		}
	}
	for k, b := range objs {
		if bytes.Contains(b, []byte("SQLite format 3")) || bytes.Contains(b, []byte("o-000001")) {
			t.Errorf("object %s holds plaintext", k)
		}
	}
	list, err := backup.List(where)
	if err != nil || len(list) != 2 || list[0].ID != mOld.ID || list[1].ID != m.ID {
		t.Fatalf("List: %v %v", list, err)
	}
	if other, err := backup.List(s3.URL("staging")); err != nil || len(other) != 0 {
		t.Fatalf("List of another prefix: %v %v", other, err)
	}
	if got, err := backup.Find(where, m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("Find: %v %v", got, err)
	}
	if _, err := backup.Find(where, "20000101T000000.000Z"); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("Find of none: %v", err)
	}
	if err := backup.Verify(ctx, where, m, kek(t, 1), nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// One byte changed in the bucket: verify finds it, restore writes nothing.
	key := "prod/" + m.ID + "/lethe.db.enc"
	bad := bytes.Clone(objs[key])
	bad[len(bad)/2] ^= 1
	// (Replaced whole, as a new PUT would: the fake keeps the old
	// object's checksum otherwise, which the S3 client checks too.)
	if _, err := s3.Backend.DeleteObject(s3.Bucket, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Backend.PutObject(s3.Bucket, key, map[string]string{}, bytes.NewReader(bad), int64(len(bad)), nil); err != nil {
		t.Fatal(err)
	}
	if err := backup.Verify(ctx, where, m, kek(t, 1), nil); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("Verify of a changed object: %v, want ErrCorrupt", err)
	}
	target := t.TempDir()
	if err := backup.Restore(ctx, where, m, kek(t, 1), backup.RestoreOptions{DataDir: target}); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("Restore of a changed object: %v", err)
	}
	if _, err := s3.Backend.DeleteObject(s3.Bucket, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Backend.PutObject(s3.Bucket, key, map[string]string{}, bytes.NewReader(objs[key]), int64(len(objs[key])), nil); err != nil {
		t.Fatal(err)
	}
	if err := backup.Restore(ctx, where, m, kek(t, 1), backup.RestoreOptions{DataDir: target}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if n := count(t, filepath.Join(target, "lethe.db")); n != 2000 {
		t.Errorf("restored %d records, want 2000", n)
	}
	gone, err := backup.Prune(where, time.Now(), backup.DefaultMaxAge, false)
	if err != nil || len(gone) != 1 || gone[0].ID != mOld.ID {
		t.Fatalf("Prune: %v %v", gone, err)
	}
	for k := range objects(t, s3) {
		if strings.Contains(k, mOld.ID) {
			t.Errorf("object %s of the pruned backup is left", k)
		}
	}
	if list, _ := backup.List(where); len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("List after prune: %v", list)
	}
}

// A bucket that does not exist, or a server that does not answer, fails
// the backup with the matching kind and leaves nothing.
func TestBucket_MissingOrUnreachable(t *testing.T) {
	s3 := s3test.Start(t, "lethe-backups")
	ctx := context.Background()
	data := t.TempDir()
	seed(t, data, 10)
	missing := strings.Replace(s3.URL(""), "s3://lethe-backups", "s3://no-such-bucket", 1)
	if _, err := backup.Create(ctx, backup.Options{Dir: missing, Temp: data, Sources: sources(data), Wrapper: kek(t, 1)}); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("Create into a missing bucket: %v, want ErrInvalid", err)
	}
	down := strings.Replace(s3.URL(""), s3.Endpoint, "http://127.0.0.1:1", 1)
	if _, err := backup.List(down); !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("List with the server down: %v, want ErrUnavailable", err)
	}
	if _, err := backup.List("gs://bucket"); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("List of gs://: %v, want ErrInvalid", err)
	}
	if n := len(objects(t, s3)); n != 0 {
		t.Fatalf("%d objects left", n)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
