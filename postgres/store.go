// Package postgres is Lethe's Store on PostgreSQL, for several Lethe
// instances sharing one database (pgx v5 and its connection pool).
//
// Every rule that matters when several instances write at once is decided
// by the database, never by a read-then-write in Go: unique indexes refuse
// a second record id or voucher code, the "sweep" lease is one row taken by
// an upsert and checked FOR SHARE inside every fenced batch, request jobs
// are claimed with FOR UPDATE SKIP LOCKED, and each audit chain is appended
// under a transaction-scoped advisory lock on that chain.
//
// Transactions are short and commit with PostgreSQL's defaults (fsync on,
// synchronous_commit on): a confirmed erasure survives a crash. Concurrent
// callers need no group commit of their own, because PostgreSQL already
// flushes the WAL of concurrent commits together.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-privacy/lethe"
)

var _ lethe.Store = (*Store)(nil)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Now is the clock for timestamps the store fills in (a record's
	// UpdatedAt on update when unset, a tenant's CreatedAt, an audit
	// entry's Time). Defaults to time.Now.
	Now func() time.Time
	// MaxConns caps the connection pool. Zero keeps the DSN's
	// pool_max_conns, or DefaultMaxConns. Every instance holds up to
	// this many of the server's max_connections.
	MaxConns int32
}

// DefaultMaxConns is the pool size when neither Options nor the DSN's
// pool_max_conns names one. pgxpool's own default, four connections on a
// two-core machine, held eight concurrent HTTP creates to 280/s, against
// 514/s with 16 (BENCHMARKS.md): requests wait for a connection while
// the server has cores idle. Three instances of 16 stay well under
// PostgreSQL's default max_connections of 100.
const DefaultMaxConns = 16

// Store is a lethe.Store on one PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	closed atomic.Bool
}

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, as libpq takes), applies the migrations the binary
// embeds and returns the store. Several instances may open the same
// database at once: migrations run under an advisory lock.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w: %v", lethe.ErrInvalid, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !hasPoolMaxConns(dsn):
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", mapErr(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", mapErr(err))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", mapErr(err))
	}
	return &Store{pool: pool, now: opts.Now}, nil
}

// hasPoolMaxConns reports whether dsn sets pool_max_conns, in a URL's
// query or as a keyword/value pair (pgxpool.ParseConfig accepts both and
// does not say whether the value it holds was given or its default).
func hasPoolMaxConns(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has("pool_max_conns")
	}
	return poolMaxConnsKV.MatchString(dsn)
}

// poolMaxConnsKV finds the keyword in a keyword/value string, where
// libpq allows spaces around the "=".
var poolMaxConnsKV = regexp.MustCompile(`(^|\s)pool_max_conns\s*=`)

// PoolSize is the most connections the store opens.
func (s *Store) PoolSize() int32 { return s.pool.Config().MaxConns }

// Checkpoint does nothing on PostgreSQL and exists for the interface. On
// SQLite it truncates the write-ahead log so that erased bytes do not
// linger there; PostgreSQL's WAL is its own to recycle, and its archives
// and base backups are outside Lethe's reach. What protects erased data
// there is that a deleted record's fields were sealed: old WAL and
// backups hold ciphertexts, which open only with the tenant's data key,
// itself wrapped by the master key. A tenant with a master key of its own
// (BYOK) that destroys it makes every copy unreadable at once; otherwise
// Lethe's backups carry the erasure journal that replays deletions after
// a restore (ADR 0016). Dead rows are removed by (auto)vacuum.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// Close closes the pool, waiting for the connections in use to be
// returned. Calls after Close fail with lethe.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// errClosed answers calls made after Close.
var errClosed = fmt.Errorf("postgres store: %w: closed", lethe.ErrUnavailable)

// tx runs fn in one read-committed transaction and commits it; errors are
// mapped with mapErr. Every method that writes more than one statement
// uses it, so that a failure leaves nothing behind.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	err := pgx.BeginFunc(ctx, s.pool, fn)
	return mapErr(err)
}

// db returns the pool, or errClosed after Close.
func (s *Store) db() (*pgxpool.Pool, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return s.pool, nil
}

// orNow returns t, or the store's clock when t is zero.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// ms cuts a time to the millisecond, the precision every store keeps, so
// that a value read back equals the one written and guarded comparisons
// (UpdatePlans) match.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	m := ms(t)
	return &m
}

// fromNull reads a nullable time back in UTC (zero for NULL).
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// noRows reports whether err says a single-row query found nothing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
