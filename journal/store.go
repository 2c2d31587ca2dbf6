package journal

import (
	"context"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Store is a lethe.Store that writes every deletion and anonymization to
// the journal before the store commits it. Everything else passes through.
// Redactions (another person's record rewritten to drop a subject's entry)
// are not journaled: replaying one needs the subject, which the journal
// does not hold.
type Store struct {
	lethe.Store
	j   *Journal
	now func() time.Time
}

// Wrap returns st journaling its erasures to j. now is the clock of the
// entries (time.Now when nil).
func Wrap(st lethe.Store, j *Journal, now func() time.Time) lethe.Store {
	if now == nil {
		now = time.Now
	}
	return &Store{Store: st, j: j, now: now}
}

// Unwrap returns the journaled store, where the engine looks for the
// optional interfaces (group-commit hint, key rotation, embeddings) that
// pass through unchanged.
func (s *Store) Unwrap() lethe.Store { return s.Store }

func entries(deletes []lethe.RecordRef, updates []*lethe.Record) []Entry {
	var out []Entry
	for _, ref := range deletes {
		out = append(out, Entry{Ref: ref, Action: lethe.ActionDelete})
	}
	for _, r := range updates {
		if r != nil && r.State == lethe.StateAnonymized {
			out = append(out, Entry{Ref: r.Ref(), Action: lethe.ActionAnonymize})
		}
	}
	return out
}

// journaled runs commit after the batch's entries are in the journal and
// marks them aborted when commit fails. A journal that cannot be written
// stops the erasure: an erasure the journal does not know of would come
// back with the next restore.
func (s *Store) journaled(e []Entry, commit func() error) error {
	batch, err := s.j.Begin(e, s.now())
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		if aerr := s.j.Abort(batch); aerr != nil {
			// Left without its abort line the batch counts as done: a
			// restore would erase these records again, the safe side.
			return err
		}
		return err
	}
	return nil
}

func (s *Store) ApplyBatch(ctx context.Context, b *lethe.Batch) error {
	return s.journaled(entries(b.Deletes, b.Updates), func() error { return s.Store.ApplyBatch(ctx, b) })
}

func (s *Store) ApplyRequestBatch(ctx context.Context, b *lethe.RequestBatch) error {
	return s.journaled(entries(b.Deletes, b.Updates), func() error { return s.Store.ApplyRequestBatch(ctx, b) })
}

func (s *Store) DeleteRecord(ctx context.Context, ref lethe.RecordRef) error {
	return s.journaled(entries([]lethe.RecordRef{ref}, nil), func() error { return s.Store.DeleteRecord(ctx, ref) })
}
