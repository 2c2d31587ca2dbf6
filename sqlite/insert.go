package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
)

// Group commit. Every fsync of a synchronous=FULL commit costs milliseconds;
// fifty HTTP clients inserting one record each would pay fifty of them in a
// row. Instead, callers hand their batch to the store's batcher
// (audit.Batcher, the same mechanism that group-commits audit entries),
// which gathers the calls waiting and the ones on their way, runs them in
// one transaction with a SAVEPOINT per call, commits once and answers each
// caller. A call that fails (a duplicate id, say) is rolled back to its
// savepoint and gets its own error; the others commit.

// maxGroupRecords caps the records of one group transaction, so that one
// commit stays short and readers see progress. A single larger call still
// runs whole.
const maxGroupRecords = 4096

// gatherDelay is the longest a group waits for callers still on their way
// (running, or announced by ExpectInsert) before it commits.
const gatherDelay = 2 * time.Millisecond

// insertCall is one InsertRecords call waiting for the group commit.
type insertCall struct {
	ctx  context.Context
	recs []*lethe.Record
	rows []recordRow // recs encoded
	err  error       // the call's own outcome, set by commitGroup
}

func newInsertBatcher(s *Store) *audit.Batcher[*insertCall] {
	return audit.NewWeightedBatcher(s.commitGroup, func(c *insertCall) int { return len(c.recs) },
		audit.BatchOptions{MaxBatch: maxGroupRecords, Yield: true, Delay: gatherDelay})
}

// ExpectInsert announces an InsertRecords call on its way (a request
// still validating and sealing its records): a group about to commit
// waits for it, at most gatherDelay, so that concurrent creates share one
// fsync instead of each few paying their own. The caller ends the
// announcement with arrive right before InsertRecords, or with abandon
// when it will not insert after all; whichever comes first counts, so
// abandon can be deferred.
func (s *Store) ExpectInsert() (arrive, abandon func()) {
	s.inserts.Expect()
	var once sync.Once
	return func() { once.Do(s.inserts.Arrive) }, func() { once.Do(s.inserts.Abandon) }
}

// InsertRecords stores new records with their subjects and plans, all or
// nothing: a duplicate id or a unique subject that is taken fails the whole
// call with lethe.ErrConflict, and none of its records is stored.
// Concurrent calls are group-committed.
//
// Once the call is handed to the group commit it waits for the true
// outcome even if ctx ends meanwhile, so that a nil error always means
// stored and an error always means not stored. A call whose ctx has ended
// before its group runs is skipped and gets ctx.Err().
func (s *Store) InsertRecords(ctx context.Context, recs []*lethe.Record) error {
	if len(recs) == 0 {
		return nil
	}
	// Encoding runs here, in the callers' goroutines, so that the commit
	// does nothing but SQL.
	rows := make([]recordRow, len(recs))
	for i, r := range recs {
		row, err := s.toRow(r)
		if err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		rows[i] = row
	}
	if s.isClosed() {
		return fmt.Errorf("insert records: %w", errClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	call := &insertCall{ctx: ctx, recs: recs, rows: rows}
	// Not ctx: a call handed over waits for its true outcome.
	if err := s.inserts.Append(context.WithoutCancel(ctx), call); err != nil {
		if audit.IsClosed(err) {
			err = errClosed
		}
		return fmt.Errorf("insert records: %w", err)
	}
	return call.err
}

// commitGroup runs the calls of one group in one transaction and sets each
// call's outcome. It returns an error only when the transaction itself is
// lost, and then the batcher retries each call alone. It uses its own
// context: one caller's cancellation must not roll back the others' work.
func (s *Store) commitGroup(_ context.Context, group []*insertCall) error {
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert records: %w", mapErr(err))
	}
	p := newStmts(ctx, tx, s.whot)
	committed := 0
	for _, c := range group {
		c.err = nil
		if err := c.ctx.Err(); err != nil {
			c.err = fmt.Errorf("insert records: %w", err)
			continue
		}
		broken, err := s.insertCall(ctx, p, c)
		if broken {
			// The transaction is gone (SQLite rolls back the whole of it
			// on some errors, SQLITE_FULL among them): nothing of the
			// group is stored.
			p.close()
			tx.Rollback()
			return err
		}
		c.err = err
		if err == nil {
			committed++
		}
	}
	p.close()
	if committed == 0 {
		tx.Rollback()
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert records: commit: %w", mapErr(err))
	}
	return nil
}

// The savepoint of each call in a group transaction.
const (
	qSavepoint  = "SAVEPOINT call"
	qRelease    = "RELEASE call"
	qRollbackTo = "ROLLBACK TO call"
)

// insertCall inserts one call's records inside a savepoint, and rolls back
// to it when any record fails, so that the call is all or nothing within
// the group. broken reports that the savepoint could not be rolled back,
// which means the transaction itself is lost.
func (s *Store) insertCall(ctx context.Context, p *stmts, c *insertCall) (broken bool, err error) {
	if _, err := p.exec(qSavepoint); err != nil {
		return true, fmt.Errorf("insert records: %w", mapErr(err))
	}
	for i, r := range c.recs {
		if err := insertRecord(p, r, c.rows[i]); err != nil {
			// ROLLBACK TO leaves the savepoint open; RELEASE ends it.
			if _, rbErr := p.exec(qRollbackTo); rbErr != nil {
				return true, fmt.Errorf("insert records: %w", err)
			}
			if _, rbErr := p.exec(qRelease); rbErr != nil {
				return true, fmt.Errorf("insert records: %w", err)
			}
			return false, fmt.Errorf("insert records: %w", err)
		}
	}
	if _, err := p.exec(qRelease); err != nil {
		return true, fmt.Errorf("insert records: %w", mapErr(err))
	}
	return false, nil
}

// InsertStats counts the group commit's work so far: records per commit
// is Items / Commits.
func (s *Store) InsertStats() audit.Stats { return s.inserts.Stats() }
