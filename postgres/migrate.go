package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// migrations are compiled into the binary, so a deployed server always
// carries the schema it expects.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID is the advisory lock key under which migrations run:
// "lethemig" in ASCII, chosen not to clash with goose's own
// default key should another tool share the database.
const migrationLockID int64 = 0x6c657468656d6967

// migrate applies every migration not yet applied, in version order, while
// holding a session-level advisory lock, so that instances starting at
// once apply each migration exactly once: the others wait, then find the
// schema up to date. goose records the versions in goose_db_version.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(advisoryLock{migrationLockID}))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// advisoryLock is a goose session locker that waits for the lock
// (pg_advisory_lock) instead of polling for it: goose's own PostgreSQL
// locker retries pg_try_advisory_lock every few seconds, which would make
// every instance but the first wait seconds at start for a migration that
// took milliseconds. The wait ends with ctx.
type advisoryLock struct{ id int64 }

func (l advisoryLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	return nil
}

func (l advisoryLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.id); err != nil {
		return fmt.Errorf("migration unlock: %w", err)
	}
	return nil
}
