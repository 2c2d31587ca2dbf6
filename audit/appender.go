package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/lethe-privacy/lethe"
)

// ErrClosed answers appends made after Close.
var ErrClosed = fmt.Errorf("audit appender: %w: closed", lethe.ErrUnavailable)

// Commit writes a batch of entries durably, all or nothing.
type Commit func(ctx context.Context, entries []*lethe.AuditEntry) error

// Appender group-commits audit entries: callers wait until their entries
// are durable, but entries of many concurrent callers share one
// transaction and one fsync. Without it every audited read would cost a
// transaction of its own and reads would queue behind the single writer.
type Appender struct {
	commit   Commit
	maxBatch int

	mu     sync.RWMutex // guards closed against sends on calls
	closed bool
	calls  chan *call
	done   chan struct{}

	commits atomic.Int64 // transactions run, retries included
	entries atomic.Int64 // entries committed
}

// Stats counts an appender's work: how well it batches is Entries /
// Commits.
type Stats struct {
	Commits int64 // transactions, including failed ones and retries
	Entries int64 // entries committed
}

// Stats returns the counts so far.
func (a *Appender) Stats() Stats {
	return Stats{Commits: a.commits.Load(), Entries: a.entries.Load()}
}

type call struct {
	entries []*lethe.AuditEntry
	err     chan error
}

// NewAppender starts an appender that commits at most maxBatch entries per
// transaction (1000 when maxBatch <= 0). Close stops it.
func NewAppender(commit Commit, maxBatch int) *Appender {
	if maxBatch <= 0 {
		maxBatch = 1000
	}
	a := &Appender{commit: commit, maxBatch: maxBatch, calls: make(chan *call, 4096), done: make(chan struct{})}
	go a.loop()
	return a
}

// Append commits entries and returns once they are durable (or failed).
// Entries are checked first, so that a malformed one fails its own caller
// only. When ctx ends first Append returns its error; the entries may
// still be committed (a read then fails although it was logged, which is
// the safe side).
func (a *Appender) Append(ctx context.Context, entries ...*lethe.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if e == nil || e.Tenant == "" || e.Log == "" || e.Event == "" {
			return fmt.Errorf("%w: audit entry needs tenant, log and event", lethe.ErrInvalid)
		}
	}
	c := &call{entries: entries, err: make(chan error, 1)}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return ErrClosed
	}
	select {
	case a.calls <- c:
	case <-ctx.Done():
		a.mu.RUnlock()
		return ctx.Err()
	}
	a.mu.RUnlock()
	select {
	case err := <-c.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop takes the first waiting call, gathers whatever else is waiting up
// to maxBatch entries, and commits them together.
func (a *Appender) loop() {
	defer close(a.done)
	for first := range a.calls {
		batch := []*call{first}
		n := len(first.entries)
	gather:
		for n < a.maxBatch {
			select {
			case c, ok := <-a.calls:
				if !ok {
					break gather
				}
				batch = append(batch, c)
				n += len(c.entries)
			default:
				break gather
			}
		}
		a.run(batch, n)
	}
}

// run commits a batch. Should the shared transaction fail, each call is
// retried alone, so that one caller's problem is not reported to the
// others.
func (a *Appender) run(batch []*call, n int) {
	all := make([]*lethe.AuditEntry, 0, n)
	for _, c := range batch {
		all = append(all, c.entries...)
	}
	// The commit outlives any one caller's context: the other callers in
	// the batch are waiting for it.
	err := a.commitCounted(all)
	if err == nil || len(batch) == 1 {
		for _, c := range batch {
			c.err <- err
		}
		return
	}
	for _, c := range batch {
		c.err <- a.commitCounted(c.entries)
	}
}

func (a *Appender) commitCounted(entries []*lethe.AuditEntry) error {
	a.commits.Add(1)
	err := a.commit(context.Background(), entries)
	if err == nil {
		a.entries.Add(int64(len(entries)))
	}
	return err
}

// Close stops accepting entries, commits those already waiting, and
// returns when the appender has stopped.
func (a *Appender) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.calls)
	}
	a.mu.Unlock()
	<-a.done
}

// IsClosed reports whether err comes from an appender after Close.
func IsClosed(err error) bool { return errors.Is(err, ErrClosed) }
