package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	// S3 and every S3-compatible store (MinIO, Ceph, R2, ...): s3://BUCKET.
	_ "gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/lethe-privacy/lethe"
)

// location is where backups are kept: a folder (one sub-folder per
// backup) or a bucket (one key prefix per backup, "ID/NAME"). Backups are
// written, read whole and deleted whole; nothing is changed in place, so
// an object store's semantics suffice.
type location interface {
	// begin reserves backup id: lethe.ErrConflict when it exists.
	begin(ctx context.Context, id string) error
	// create writes id/name; the object exists, whole, once Commit
	// returned nil (the folder's file is synced); Abort leaves nothing.
	create(ctx context.Context, id, name string) (objectWriter, error)
	// open reads id/name; fs.ErrNotExist when there is none.
	open(ctx context.Context, id, name string) (io.ReadCloser, error)
	// ids lists the backups present, finished or not.
	ids(ctx context.Context) ([]string, error)
	// remove deletes a backup whole.
	remove(ctx context.Context, id string) error
	// finish makes a written backup durable (the folder's fsync).
	finish(ctx context.Context, id string) error
	close() error
	String() string
}

// IsBucketURL reports whether a --backups value names a bucket (s3://...)
// rather than a folder (a path, or file:///path).
func IsBucketURL(where string) bool {
	scheme, _, ok := strings.Cut(where, "://")
	return ok && scheme != "file"
}

// openLocation opens a --backups value: a folder path, file:///path, or
// s3://BUCKET[/PREFIX]?region=R[&endpoint=URL&use_path_style=true]. A
// bucket's credentials are the AWS SDK's usual ones (environment,
// profile, role).
func openLocation(ctx context.Context, where string) (location, error) {
	if !IsBucketURL(where) {
		return folder(strings.TrimPrefix(where, "file://")), nil
	}
	u, err := url.Parse(where)
	if err != nil {
		return nil, fmt.Errorf("%w: backups URL: %v", lethe.ErrInvalid, err)
	}
	if u.Scheme != "s3" {
		return nil, fmt.Errorf("%w: backups URL: scheme %s:// (supported: a folder, file://, s3://)", lethe.ErrInvalid, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: backups URL names no bucket", lethe.ErrInvalid)
	}
	prefix := strings.Trim(u.Path, "/")
	u.Path = ""
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("%w: backups URL s3://%s: %v", lethe.ErrInvalid, u.Host, err)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix+"/")
	}
	return &bucket{b: b, name: "s3://" + strings.TrimSuffix(u.Host+"/"+prefix, "/")}, nil
}

// objectWriter is one file or object being written.
type objectWriter interface {
	io.Writer
	Commit() error
	Abort()
}

// folder is a backup folder on a file system.
type folder string

func (f folder) String() string { return string(f) }
func (f folder) close() error   { return nil }

func (f folder) begin(_ context.Context, id string) error {
	if err := os.MkdirAll(string(f), 0o700); err != nil {
		return fmt.Errorf("backup folder: %w", err)
	}
	if err := os.Mkdir(filepath.Join(string(f), id), 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: backup %s exists", lethe.ErrConflict, id)
		}
		return fmt.Errorf("backup folder: %w", err)
	}
	return nil
}

// create writes under a temporary name and renames on Close, so a file
// is never seen half written (the manifest last of all).
func (f folder) create(_ context.Context, id, name string) (objectWriter, error) {
	final := filepath.Join(string(f), id, name)
	tmp := final + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &folderFile{File: out, tmp: tmp, final: final}, nil
}

type folderFile struct {
	*os.File
	tmp, final string
}

func (w *folderFile) Abort() {
	w.File.Close()
	os.Remove(w.tmp)
}

func (w *folderFile) Commit() error {
	err := w.File.Sync()
	if cerr := w.File.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.tmp)
		return err
	}
	return os.Rename(w.tmp, w.final)
}

func (f folder) open(_ context.Context, id, name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(f), id, name))
}

func (f folder) ids(context.Context) ([]string, error) {
	ents, err := os.ReadDir(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (f folder) remove(_ context.Context, id string) error {
	return os.RemoveAll(filepath.Join(string(f), id))
}

func (f folder) finish(_ context.Context, id string) error {
	return syncDir(filepath.Join(string(f), id))
}

// bucket is a backup bucket reached through gocloud.dev/blob.
type bucket struct {
	b    *blob.Bucket
	name string
}

func (b *bucket) String() string { return b.name }
func (b *bucket) close() error   { return b.b.Close() }

func (b *bucket) begin(ctx context.Context, id string) error {
	ok, err := b.b.Exists(ctx, id+"/"+ManifestName)
	if err != nil {
		return bucketErr(b, err)
	}
	if ok {
		return fmt.Errorf("%w: backup %s exists", lethe.ErrConflict, id)
	}
	return nil
}

// create streams an object; the upload completes on Close (S3 makes an
// object visible only whole), and a failed write aborts it.
func (b *bucket) create(ctx context.Context, id, name string) (objectWriter, error) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := b.b.NewWriter(ctx, id+"/"+name, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		cancel()
		return nil, bucketErr(b, err)
	}
	return &bucketWriter{w: w, cancel: cancel, b: b}, nil
}

type bucketWriter struct {
	w      *blob.Writer
	cancel context.CancelFunc
	b      *bucket
}

func (w *bucketWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

// Abort cancels the upload before it completes: nothing is left.
func (w *bucketWriter) Abort() {
	w.cancel()
	w.w.Close()
}

func (w *bucketWriter) Commit() error {
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		return bucketErr(w.b, err)
	}
	return nil
}

func (b *bucket) open(ctx context.Context, id, name string) (io.ReadCloser, error) {
	r, err := b.b.NewReader(ctx, id+"/"+name, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%s/%s: %w", id, name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, bucketErr(b, err)
	}
	return r, nil
}

func (b *bucket) ids(ctx context.Context) ([]string, error) {
	var out []string
	it := b.b.List(&blob.ListOptions{Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, bucketErr(b, err)
		}
		if id := strings.TrimSuffix(o.Key, "/"); o.IsDir && id != "" && !strings.HasPrefix(id, ".") {
			out = append(out, id)
		}
	}
}

// remove deletes the manifest first: a backup interrupted mid-removal
// is an unfinished one, never a finished one with files missing.
func (b *bucket) remove(ctx context.Context, id string) error {
	if err := b.b.Delete(ctx, id+"/"+ManifestName); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return bucketErr(b, err)
	}
	it := b.b.List(&blob.ListOptions{Prefix: id + "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bucketErr(b, err)
		}
		if err := b.b.Delete(ctx, o.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return bucketErr(b, err)
		}
	}
}

func (b *bucket) finish(context.Context, string) error { return nil }

// bucketErr sorts a bucket error: refused (no such bucket, access denied)
// is lethe.ErrInvalid, anything else (no answer) lethe.ErrUnavailable.
func bucketErr(b *bucket, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.FailedPrecondition:
		return fmt.Errorf("%w: backups %s: %v", lethe.ErrInvalid, b, err)
	case gcerrors.Canceled:
		return err
	}
	return fmt.Errorf("%w: backups %s: %v", lethe.ErrUnavailable, b, err)
}
