package audit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe"
)

// ErrClosed answers appends made after Close.
var ErrClosed = fmt.Errorf("audit appender: %w: closed", lethe.ErrUnavailable)

// Commit writes a batch of entries durably, all or nothing.
type Commit func(ctx context.Context, entries []*lethe.AuditEntry) error

// Batcher group-commits items: callers wait until their items are
// committed, but the items of many concurrent callers share one
// transaction and one fsync. Without it every audited read would cost a
// transaction of its own and reads would queue behind the single writer.
//
// What an item is, and how a batch of them becomes audit entries, is the
// commit function's business: an Appender's items are entries, the
// engine's read log turns the reads of one caller in a batch into one
// entry.
type Batcher[T any] struct {
	commit   func(context.Context, []T) error
	check    func(T) error // nil: every item is accepted
	weight   func(T) int   // nil: each item counts 1 toward maxBatch
	maxBatch int
	yield    bool
	delay    time.Duration
	linger   time.Duration // BatchOptions.SubmitDelay

	mu     sync.RWMutex // guards closed against sends on calls
	closed bool
	calls  chan *call[T]
	done   chan struct{}

	expected atomic.Int64  // callers announced by Expect that have not arrived
	wake     chan struct{} // Abandon's wake-up for a batch waiting on expected

	commits atomic.Int64 // transactions run, retries included
	items   atomic.Int64 // items committed

	// submitFailed is set when a commit of submitted items failed and
	// cleared by the next commit that succeeds: while it is set, Submit
	// refuses, so that callers wait for (and see) the outcome again.
	submitFailed atomic.Bool
}

// Appender group-commits audit entries.
type Appender = Batcher[*lethe.AuditEntry]

// Stats counts a batcher's work: how well it batches is Items / Commits.
type Stats struct {
	Commits int64 // transactions, including failed ones and retries
	Items   int64 // items committed (an Appender's: entries)
	// Expected is how many callers are announced (Expect) and have not
	// arrived or abandoned: zero whenever no caller is under way.
	Expected int64
}

// Stats returns the counts so far.
func (b *Batcher[T]) Stats() Stats {
	return Stats{Commits: b.commits.Load(), Items: b.items.Load(), Expected: b.expected.Load()}
}

type call[T any] struct {
	items     []T
	err       chan error // buffered: the loop never blocks on an answer
	submitted bool       // handed over by Submit: nobody waits for err
}

// BatchOptions shape a batcher's commits.
type BatchOptions struct {
	// MaxBatch is the most items one commit takes (1000 when <= 0).
	MaxBatch int
	// Yield makes the batcher step aside (runtime.Gosched) before it
	// commits, and gather again, for as long as that brings more callers
	// and at most Delay. When every caller already waits, nothing else
	// runs and the commit starts at once; when the processors are busy
	// with callers on their way, it starts after they arrived. The wait
	// thus grows with the load by itself, without a timer that would
	// also delay a few callers that all wait already.
	//
	// Whatever Yield says, a batch also waits, at most Delay, for callers
	// announced by Expect that have not arrived yet.
	Yield bool
	Delay time.Duration
	// SubmitDelay is how long a batch of submitted items alone (Submit:
	// nobody waits for them) keeps gathering before it commits. Waiting
	// costs no caller anything there, and every commit it saves frees
	// the writer for the callers that do wait. A caller that waits ends
	// the lingering at once. 0: no lingering.
	SubmitDelay time.Duration
}

// NewBatcher starts a batcher that hands its batches to commit. Close
// stops it.
func NewBatcher[T any](commit func(context.Context, []T) error, opts BatchOptions) *Batcher[T] {
	return newBatcher(commit, nil, opts).start()
}

// NewWeightedBatcher is NewBatcher for items of different sizes: weight
// tells how much of MaxBatch an item takes (a call of 1,000 records weighs
// 1,000), so that one commit stays short whatever the items hold.
func NewWeightedBatcher[T any](commit func(context.Context, []T) error, weight func(T) int, opts BatchOptions) *Batcher[T] {
	b := newBatcher(commit, nil, opts)
	b.weight = weight
	return b.start()
}

// NewAppender starts a batcher of audit entries that checks each entry
// before it joins a batch, so that a malformed one fails its own caller
// only.
func NewAppender(commit Commit, opts BatchOptions) *Appender {
	return newBatcher(commit, checkEntry, opts).start()
}

func checkEntry(e *lethe.AuditEntry) error {
	if e == nil || e.Tenant == "" || e.Log == "" || e.Event == "" {
		return fmt.Errorf("%w: audit entry needs tenant, log and event", lethe.ErrInvalid)
	}
	return nil
}

func newBatcher[T any](commit func(context.Context, []T) error, check func(T) error, opts BatchOptions) *Batcher[T] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	b := &Batcher[T]{commit: commit, check: check, maxBatch: opts.MaxBatch, yield: opts.Yield, delay: opts.Delay, linger: opts.SubmitDelay,
		calls: make(chan *call[T], 4096), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	return b
}

// start runs the batcher's loop; every constructor calls it last.
func (b *Batcher[T]) start() *Batcher[T] {
	go b.loop()
	return b
}

// Append commits items and returns once they are committed (or failed).
// When ctx ends first Append returns its error; the items may still be
// committed (a read then fails although it was logged, which is the safe
// side).
func (b *Batcher[T]) Append(ctx context.Context, items ...T) error {
	if len(items) == 0 {
		return nil
	}
	if b.check != nil {
		for _, it := range items {
			if err := b.check(it); err != nil {
				return err
			}
		}
	}
	c := &call[T]{items: items, err: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.calls <- c:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case err := <-c.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Submit hands items over without waiting for their commit, and reports
// whether it did. It refuses (false) after Close, and while the last
// commit of submitted items failed and none has succeeded since: the
// caller then appends with Append, waits, and gets the error. So a
// failing store stops a submitter at its next item, one batch late at
// most, rather than never.
//
// Submit is for entries whose durability is lazy anyway (a commit that
// does not wait for the disk can be lost to a power cut): not waiting for
// the commit itself loses nothing more, and saves the caller a commit's
// latency. Sync waits for what was submitted.
func (b *Batcher[T]) Submit(items ...T) bool {
	if len(items) == 0 {
		return true
	}
	if b.submitFailed.Load() {
		return false
	}
	if b.check != nil {
		for _, it := range items {
			if b.check(it) != nil {
				return false
			}
		}
	}
	c := &call[T]{items: items, err: make(chan error, 1), submitted: true}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	select {
	case b.calls <- c:
		return true
	default: // the queue is full: let the caller wait instead
		return false
	}
}

// Sync returns once every item submitted or appended before it has been
// committed (or has failed), so that a reader of the log sees its own
// submitted entries.
func (b *Batcher[T]) Sync(ctx context.Context) error {
	c := &call[T]{err: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil // Close committed everything
	}
	select {
	case b.calls <- c:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case <-c.err:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Expect announces a caller on its way: it will call Arrive and Append
// shortly, or Abandon should it have nothing to append after all. Until
// then a batch waits for it, at most Delay: under load many callers are
// on their way at once, and one commit for all of them costs far less
// than one for each few. When every announced caller has arrived, the
// batch commits at once.
//
// This is the commit_siblings idea of PostgreSQL, counted exactly: a
// batcher that only sees the callers already waiting cannot tell "all
// there are" from "the first of many".
func (b *Batcher[T]) Expect() { b.expected.Add(1) }

// Arrive ends what Expect announced, right before the caller's Append
// (which wakes the batcher).
func (b *Batcher[T]) Arrive() { b.expected.Add(-1) }

// Abandon ends what Expect announced for a caller that will not append
// (its read failed, say), and wakes a batch waiting for it.
func (b *Batcher[T]) Abandon() {
	b.expected.Add(-1)
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// idleRounds is how many times in a row stepping aside may bring no new
// caller before the batcher commits: a caller on its way may need a few
// turns of the scheduler to arrive.
const idleRounds = 3

// loop takes the first waiting call, gathers whatever else is waiting up
// to maxBatch items, waits for callers on their way (announced ones, and
// with Yield running ones, see BatchOptions), and commits them together.
func (b *Batcher[T]) loop() {
	defer close(b.done)
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	for first := range b.calls {
		g := gathering[T]{weight: b.weight, more: true}
		g.add(first, true)
		b.lingerSubmitted(&g, wait)
		start := time.Now()
		for idle := 0; g.more; {
			before := len(g.batch)
			b.gather(&g)
			if len(g.batch) == before {
				idle++
			} else {
				idle = 0
			}
			left := b.delay - time.Since(start)
			if g.n >= b.maxBatch || left <= 0 {
				break
			}
			if b.expected.Load() > 0 {
				// Announced callers: sleep until the next one arrives.
				wait.Reset(left)
				select {
				case c, ok := <-b.calls:
					g.add(c, ok)
				case <-b.wake:
				case <-wait.C:
					g.more = false // waited long enough
				}
				wait.Stop()
				continue
			}
			// Let the callers that are running catch up, as long as that
			// brings more of them.
			if !b.yield || idle > idleRounds {
				break
			}
			runtime.Gosched()
		}
		b.run(g.batch)
	}
}

// lingerSubmitted gathers for up to b.linger while the batch holds only
// submitted calls, which nobody waits for.
func (b *Batcher[T]) lingerSubmitted(g *gathering[T], wait *time.Timer) {
	if b.linger <= 0 || !g.onlySubmitted() {
		return
	}
	wait.Reset(b.linger)
	defer wait.Stop()
	for g.more && g.n < b.maxBatch && g.onlySubmitted() {
		select {
		case c, ok := <-b.calls:
			g.add(c, ok)
		case <-wait.C:
			return
		}
	}
}

// gathering is a batch being gathered.
type gathering[T any] struct {
	batch  []*call[T]
	n      int         // weight of the items in batch
	more   bool        // whether to gather more
	weight func(T) int // nil: 1 per item
	waited bool        // a call in batch has a caller waiting for it
}

func (g *gathering[T]) onlySubmitted() bool { return !g.waited }

// add adds a call received from the channel (ok false: it was closed).
func (g *gathering[T]) add(c *call[T], ok bool) {
	if !ok {
		g.more = false
		return
	}
	g.batch = append(g.batch, c)
	g.waited = g.waited || !c.submitted
	if g.weight == nil {
		g.n += len(c.items)
		return
	}
	for _, it := range c.items {
		g.n += g.weight(it)
	}
}

// gather takes the calls that wait already, up to maxBatch items.
func (b *Batcher[T]) gather(g *gathering[T]) {
	for g.more && g.n < b.maxBatch {
		select {
		case c, ok := <-b.calls:
			g.add(c, ok)
		default:
			return
		}
	}
}

// run commits a batch. Should the shared transaction fail, each call is
// retried alone, so that one caller's problem is not reported to the
// others.
func (b *Batcher[T]) run(batch []*call[T]) {
	n := 0
	for _, c := range batch {
		n += len(c.items)
	}
	all := make([]T, 0, n)
	for _, c := range batch {
		all = append(all, c.items...)
	}
	// The commit outlives any one caller's context: the other callers in
	// the batch are waiting for it.
	var err error
	if len(all) > 0 { // a batch of Sync markers alone commits nothing
		err = b.commitCounted(all)
	}
	if err == nil || len(batch) == 1 {
		for _, c := range batch {
			b.answer(c, err)
		}
		return
	}
	for _, c := range batch {
		var cerr error
		if len(c.items) > 0 {
			cerr = b.commitCounted(c.items)
		}
		b.answer(c, cerr)
	}
}

// answer tells a call its outcome, and keeps track of failed submissions.
func (b *Batcher[T]) answer(c *call[T], err error) {
	if c.submitted && err != nil {
		b.submitFailed.Store(true)
	}
	c.err <- err
}

func (b *Batcher[T]) commitCounted(items []T) error {
	if len(items) == 0 {
		return nil
	}
	b.commits.Add(1)
	err := b.commit(context.Background(), items)
	if err == nil {
		b.items.Add(int64(len(items)))
		b.submitFailed.Store(false)
	}
	return err
}

// Close stops accepting items, commits those already waiting, and
// returns when the batcher has stopped.
func (b *Batcher[T]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.calls)
	}
	b.mu.Unlock()
	<-b.done
}

// IsClosed reports whether err comes from an appender after Close.
func IsClosed(err error) bool { return errors.Is(err, ErrClosed) }
