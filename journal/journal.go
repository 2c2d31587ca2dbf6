// Package journal keeps the erasure journal: for every record erased or
// anonymized, a keyed hash of its reference and the time, never a value
// or an identifier. It lives in a file of its own beside the database, so
// restoring an older database leaves it as it was, and the first start
// after a restore does again every erasure the backup predates (see
// docs/adr/0016-encrypted-backups-and-the-erasure-journal.md).
//
// The file is JSON lines: a header holding the HMAC key wrapped by the
// master key, then one line per erased or anonymized record, written and
// synced before the erasure's transaction commits, and an "abort" line
// for a batch whose transaction failed. A batch cut off by a crash has
// no abort line and so counts as done: the journal errs towards erasing.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// FileName is the journal's name beside the database.
const FileName = "lethe-erasures.journal"

// Path is the journal beside the database at dbPath.
func Path(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), FileName) }

// hashSize is the length of a stored reference hash: 128 bits of
// HMAC-SHA256, collision-free for any number of records Lethe holds.
const hashSize = 16

const headerFormat = "lethe erasure journal v1"

type header struct {
	Format     string `json:"format"`
	KEKID      string `json:"kek_id"`
	WrappedKey []byte `json:"wrapped_key"`
}

// line is one journal line after the header.
type line struct {
	Batch  uint64 `json:"b"`
	Action string `json:"a"`           // "delete", "anonymize", "abort" or "key"
	Hash   []byte `json:"h,omitempty"` // HMAC of the record reference
	Millis int64  `json:"t,omitempty"` // when, unix milliseconds
	// A "key" line holds the journal's key wrapped again under a newer
	// master key version (after a rotation): appended, like every line,
	// so that a process writing the journal at the same time loses
	// nothing, and the old version can be destroyed.
	KEKID      string `json:"kek,omitempty"`
	WrappedKey []byte `json:"k,omitempty"`
}

// Journal is an open erasure journal. Its methods are safe for concurrent
// use. Several processes on one data folder (serve and a command-line
// sweep) each append whole lines with O_APPEND and random batch numbers,
// and the file is never rewritten in place.
type Journal struct {
	path string
	key  []byte

	mu sync.Mutex
	f  *os.File
}

// Open opens the journal at path, creating it (with a new HMAC key wrapped
// by w) when absent. A journal whose key w cannot unwrap fails with
// keyring.ErrWrongMasterKey.
func Open(ctx context.Context, path string, w keyring.Wrapper) (*Journal, error) {
	j := &Journal{path: path}
	rekey := false
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := j.create(ctx, w); err != nil {
			return nil, fmt.Errorf("erasure journal %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("erasure journal: %w", err)
	default:
		key, current, err := readKey(ctx, b, w)
		if err != nil {
			return nil, fmt.Errorf("erasure journal %s: %w", path, err)
		}
		j.key, rekey = key, !current
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("erasure journal: %w", err)
	}
	j.f = f
	if rekey {
		if err := j.rekey(ctx, w); err != nil {
			j.Close()
			return nil, err
		}
	}
	return j, nil
}

// Rekey appends the journal's key wrapped under w's current version. A
// master key rewrap calls it: a cloud KMS master moved to another key
// knows only that key at the next start, so the journal must not wait
// for that start to move.
func (j *Journal) Rekey(ctx context.Context, w keyring.Wrapper) error { return j.rekey(ctx, w) }

// rekey appends the journal's key wrapped under w's current version.
func (j *Journal) rekey(ctx context.Context, w keyring.Wrapper) error {
	wrapped, kekID, err := w.Wrap(ctx, j.key)
	if err != nil {
		return fmt.Errorf("erasure journal %s: wrap under %s: %w", j.path, w.ID(), err)
	}
	b, err := json.Marshal(line{Action: "key", KEKID: kekID, WrappedKey: wrapped})
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.write(append(b, '\n'))
}

func (j *Journal) create(ctx context.Context, w keyring.Wrapper) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	wrapped, kekID, err := w.Wrap(ctx, key)
	if err != nil {
		return err
	}
	hdr, err := json.Marshal(header{Format: headerFormat, KEKID: kekID, WrappedKey: wrapped})
	if err != nil {
		return err
	}
	// Written whole under a temporary name, then renamed: a journal is
	// never seen without its header.
	tmp := j.path + ".new"
	if err := os.WriteFile(tmp, append(hdr, '\n'), 0o600); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return err
	}
	j.key = key
	return syncFile(filepath.Dir(j.path))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// readKey reads the header of a journal's content and unwraps its key
// from the newest wrapping w still knows (the header's or a later "key"
// line's); current reports whether one is under w's current version.
func readKey(ctx context.Context, b []byte, w keyring.Wrapper) (key []byte, current bool, err error) {
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	var h header
	if err := json.Unmarshal(first, &h); err != nil || h.Format != headerFormat {
		return nil, false, fmt.Errorf("%w: not an erasure journal", lethe.ErrInvalid)
	}
	wraps := []line{{KEKID: h.KEKID, WrappedKey: h.WrappedKey}}
	if err := eachLine(rest, func(l line) {
		if l.Action == "key" {
			wraps = append(wraps, l)
		}
	}); err != nil {
		return nil, false, err
	}
	for i := len(wraps) - 1; i >= 0; i-- {
		if !keyring.Knows(w, wraps[i].KEKID) {
			continue
		}
		key, err := w.Unwrap(ctx, wraps[i].WrappedKey, wraps[i].KEKID)
		if err != nil {
			return nil, false, err
		}
		for _, l := range wraps {
			current = current || l.KEKID == w.ID()
		}
		return key, current, nil
	}
	return nil, false, fmt.Errorf("%w: the journal's key is wrapped by master key %s, this is %s", keyring.ErrWrongMasterKey, wraps[len(wraps)-1].KEKID, w.ID())
}

// eachLine calls fn for every whole line; a last line cut by a crash is
// skipped, a bad line elsewhere is an error.
func eachLine(b []byte, fn func(line)) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Bytes()
		if len(text) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(text, &l); err != nil {
			if !bytes.HasSuffix(b, []byte("\n")) && n == bytes.Count(b, []byte("\n"))+1 {
				return nil // the torn last line of a crash
			}
			return fmt.Errorf("%w: erasure journal line %d does not parse", lethe.ErrInvalid, n+1)
		}
		fn(l)
	}
	return sc.Err()
}

// Hash is the keyed hash the journal stores for a record reference.
func (j *Journal) Hash(ref lethe.RecordRef) []byte {
	m := hmac.New(sha256.New, j.key)
	for _, s := range []string{ref.Tenant, ref.Collection, ref.ID} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:hashSize]
}

// Entry is one record about to be erased or anonymized.
type Entry struct {
	Ref    lethe.RecordRef
	Action lethe.Action // ActionDelete or ActionAnonymize
}

// Begin appends entries as one batch and syncs the file before it
// returns; the caller commits the erasure next and calls Abort with the
// batch when that fails. No entries: batch 0, nothing written.
func (j *Journal) Begin(entries []Entry, now time.Time) (uint64, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return 0, fmt.Errorf("erasure journal: %w: closed", lethe.ErrUnavailable)
	}
	// Batch numbers are random, not counted: serve and a command line
	// sweep may append to the same journal, and an abort must never name
	// the other one's batch.
	var batch uint64
	for batch == 0 {
		var nb [8]byte
		if _, err := rand.Read(nb[:]); err != nil {
			return 0, err
		}
		batch = binary.BigEndian.Uint64(nb[:])
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range entries {
		if err := enc.Encode(line{Batch: batch, Action: string(e.Action), Hash: j.Hash(e.Ref), Millis: now.UnixMilli()}); err != nil {
			return 0, err
		}
	}
	if err := j.write(buf.Bytes()); err != nil {
		return 0, err
	}
	return batch, nil
}

// Abort records that batch did not commit.
func (j *Journal) Abort(batch uint64) error {
	if batch == 0 {
		return nil
	}
	b, _ := json.Marshal(line{Batch: batch, Action: "abort"})
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("erasure journal: %w: closed", lethe.ErrUnavailable)
	}
	return j.write(append(b, '\n'))
}

func (j *Journal) write(b []byte) error {
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("erasure journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("erasure journal: %w", err)
	}
	return nil
}

// CopyTo writes the journal as it stands to w (a backup's copy): whole
// batches only, since appends wait.
func (j *Journal) CopyTo(w io.Writer) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.Open(j.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// Erasure is one committed entry: what became of a record and when.
type Erasure struct {
	Action lethe.Action
	At     time.Time
}

// Erasures reads every committed entry, keyed by reference hash, oldest
// first.
func (j *Journal) Erasures() (map[string][]Erasure, error) {
	j.mu.Lock()
	b, err := os.ReadFile(j.path)
	j.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("erasure journal: %w", err)
	}
	_, rest, _ := bytes.Cut(b, []byte("\n"))
	aborted := map[uint64]bool{}
	if err := eachLine(rest, func(l line) {
		if l.Action == "abort" {
			aborted[l.Batch] = true
		}
	}); err != nil {
		return nil, err
	}
	out := map[string][]Erasure{}
	err = eachLine(rest, func(l line) {
		a := lethe.Action(l.Action)
		if aborted[l.Batch] || len(l.Hash) != hashSize || (a != lethe.ActionDelete && a != lethe.ActionAnonymize) {
			return
		}
		k := string(l.Hash)
		out[k] = append(out[k], Erasure{Action: a, At: time.UnixMilli(l.Millis).UTC()})
	})
	return out, err
}

// Due says what must be done again to a restored record created at
// created, given its journal entries: a deletion or anonymization the
// journal holds from its creation on (an entry before it was of an
// earlier record of the same id). ActionNone when nothing.
func Due(entries []Erasure, created time.Time) lethe.Action {
	due := lethe.ActionNone
	c := created.Truncate(time.Millisecond)
	for _, e := range entries {
		if e.At.Before(c) {
			continue
		}
		if e.Action == lethe.ActionDelete {
			return lethe.ActionDelete
		}
		due = lethe.ActionAnonymize
	}
	return due
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// Verdict reads the journal once and returns what must be done again to
// each restored record (see Due), and how many records the journal names.
func (j *Journal) Verdict() (func(*lethe.Record) lethe.Action, int, error) {
	all, err := j.Erasures()
	if err != nil {
		return nil, 0, err
	}
	return func(r *lethe.Record) lethe.Action {
		e, ok := all[string(j.Hash(r.Ref()))]
		if !ok {
			return lethe.ActionNone
		}
		return Due(e, r.CreatedAt)
	}, len(all), nil
}
