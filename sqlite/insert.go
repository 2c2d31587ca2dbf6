package sqlite

import (
	"context"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// Group commit. Every fsync of a synchronous=FULL commit costs milliseconds;
// fifty HTTP clients inserting one record each would pay fifty of them in a
// row. Instead, callers hand their batch to one goroutine (commitLoop) that
// takes every call waiting, runs them in one transaction with a SAVEPOINT
// per call, commits once and answers each caller. A call that fails (a
// duplicate id, say) is rolled back to its savepoint and gets its own error;
// the others commit.

// maxGroupRecords caps the records of one group transaction, so that one
// commit stays short and readers see progress. A single larger call still
// runs whole.
const maxGroupRecords = 4096

// insertCall is one InsertRecords call waiting for the commit loop.
type insertCall struct {
	ctx  context.Context
	recs []*lethe.Record
	rows []recordRow // recs encoded
	res  chan error  // buffered: the loop never blocks on an answer
}

// InsertRecords stores new records with their subjects and plans, all or
// nothing: a duplicate id or a unique subject that is taken fails the whole
// call with lethe.ErrConflict, and none of its records is stored.
// Concurrent calls are group-committed.
//
// Once the call is handed to the commit loop it waits for the true outcome
// even if ctx ends meanwhile, so that a nil error always means stored and
// an error always means not stored. A call whose ctx has ended before the
// loop reaches it is skipped and gets ctx.Err().
func (s *Store) InsertRecords(ctx context.Context, recs []*lethe.Record) error {
	if len(recs) == 0 {
		return nil
	}
	// Encoding runs here, in the callers' goroutines, so that the commit
	// loop does nothing but SQL.
	rows := make([]recordRow, len(recs))
	for i, r := range recs {
		row, err := s.toRow(r)
		if err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		rows[i] = row
	}
	call := &insertCall{ctx: ctx, recs: recs, rows: rows, res: make(chan error, 1)}
	if err := s.enqueue(ctx, call); err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	return <-call.res
}

// enqueue hands a call to the commit loop.
func (s *Store) enqueue(ctx context.Context, call *insertCall) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	select {
	case s.inserts <- call:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop runs until Close closes s.inserts, and answers every call it
// received before ending.
func (s *Store) commitLoop() {
	defer close(s.done)
	for first := range s.inserts {
		group := []*insertCall{first}
		n := len(first.recs)
	collect:
		for n < maxGroupRecords {
			select {
			case c, ok := <-s.inserts:
				if !ok {
					break collect
				}
				group = append(group, c)
				n += len(c.recs)
			default:
				break collect
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup runs the calls of one group in one transaction and answers
// each. It uses its own context: one caller's cancellation must not roll
// back the others' work.
func (s *Store) commitGroup(group []*insertCall) {
	ctx := context.Background()
	errs := make([]error, len(group))
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		answerAll(group, fmt.Errorf("insert records: %w", mapErr(err)))
		return
	}
	p := newStmts(ctx, tx, s.whot)
	committed := 0
	for i, c := range group {
		if err := c.ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("insert records: %w", err)
			continue
		}
		var broken bool
		broken, errs[i] = s.insertCall(ctx, p, c)
		if broken {
			// The transaction is gone (SQLite rolls back the whole of it
			// on some errors, SQLITE_FULL among them): nothing of the
			// group is stored, so every caller gets the error.
			p.close()
			tx.Rollback()
			answerAll(group, errs[i])
			return
		}
		if errs[i] == nil {
			committed++
		}
	}
	p.close()
	if committed == 0 {
		tx.Rollback()
		answer(group, errs)
		return
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("insert records: commit: %w", mapErr(err))
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	answer(group, errs)
}

// insertCall inserts one call's records inside a savepoint, and rolls back
// to it when any record fails, so that the call is all or nothing within
// the group. broken reports that the savepoint could not be rolled back,
// which means the transaction itself is lost.
func (s *Store) insertCall(ctx context.Context, p *stmts, c *insertCall) (broken bool, err error) {
	if _, err := p.tx.ExecContext(ctx, "SAVEPOINT call"); err != nil {
		return true, fmt.Errorf("insert records: %w", mapErr(err))
	}
	for i, r := range c.recs {
		if err := insertRecord(p, r, c.rows[i]); err != nil {
			// ROLLBACK TO leaves the savepoint open; RELEASE ends it.
			if _, rbErr := p.tx.ExecContext(ctx, "ROLLBACK TO call"); rbErr != nil {
				return true, fmt.Errorf("insert records: %w", err)
			}
			if _, rbErr := p.tx.ExecContext(ctx, "RELEASE call"); rbErr != nil {
				return true, fmt.Errorf("insert records: %w", err)
			}
			return false, fmt.Errorf("insert records: %w", err)
		}
	}
	if _, err := p.tx.ExecContext(ctx, "RELEASE call"); err != nil {
		return true, fmt.Errorf("insert records: %w", mapErr(err))
	}
	return false, nil
}

func answer(group []*insertCall, errs []error) {
	for i, c := range group {
		c.res <- errs[i]
	}
}

func answerAll(group []*insertCall, err error) {
	for _, c := range group {
		c.res <- err
	}
}
