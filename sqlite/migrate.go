package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// migrations are compiled into the binary, so a deployed server always
// carries the schema it expects.
//
//go:embed migrations/*.sql migrations_manager_log/*.sql
var migrations embed.FS

// migrate applies every migration not yet applied, in version order. goose
// records the versions in goose_db_version, so opening an up-to-date
// database applies nothing.
func migrate(ctx context.Context, db *sql.DB, dir string) error {
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
