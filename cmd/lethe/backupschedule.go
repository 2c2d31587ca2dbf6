package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/sqlite"
)

// backupSchedule is serve's --backup-every: a backup now and then, each
// followed by pruning those past --backup-max-age.
type backupSchedule struct {
	every  time.Duration
	dir    string
	maxAge time.Duration
}

func (b *backupSchedule) register(fs *pflag.FlagSet, env envFunc) {
	fs.Var(intervalVar(&b.every, 0), "backup-every", "take an encrypted backup this often, e.g. 24h or 1d (0: none) into --backups")
	fs.StringVar(&b.dir, "backups", env.or("LETHE_BACKUPS", "./lethe-backups"), "folder or s3://BUCKET[/PREFIX]?region=R URL of the scheduled backups [$LETHE_BACKUPS]")
	fs.Var(intervalVar(&b.maxAge, backup.DefaultMaxAge), "backup-max-age", "scheduled backups older than this are pruned after each new one (C10: 60d)")
}

func (b *backupSchedule) check(df *dataFlags) error {
	switch {
	case b.every < 0:
		return fmt.Errorf("%w: --backup-every must not be negative", errUsage)
	case b.every > 0 && b.maxAge <= 0:
		return fmt.Errorf("%w: --backup-max-age must be positive", errUsage)
	case b.every > 0 && df.databaseURL() != "":
		return fmt.Errorf("%w: --backup-every backs up a SQLite data folder; back PostgreSQL up with pg_dump (README.md, \"Backups\")", errUsage)
	}
	return nil
}

// run takes one backup of the open data and prunes the old ones, logging
// and auditing both in the runtime log. A failure is logged and audited;
// the server goes on.
func (b *backupSchedule) run(ctx context.Context, o *opened, dbPath string, now func() time.Time, log *slog.Logger) (*backup.Manifest, []*backup.Manifest, error) {
	st, ok := o.store.(*sqlite.Store)
	if !ok || o.journal == nil {
		return nil, nil, fmt.Errorf("%w: scheduled backups need the SQLite store", errUsage)
	}
	m, err := backup.Create(ctx, backup.Options{Dir: b.dir, Temp: filepath.Dir(st.Path()), Sources: sourcesOf(dbPath, o.journal.CopyTo), Wrapper: o.kek, Now: now})
	if err != nil {
		log.Error("scheduled backup failed", "err", err)
		if aerr := o.eng.LogServer(ctx, "backup.failed", map[string]any{"error": err.Error()}); aerr != nil {
			log.Error("audit: backup failure not recorded", "err", aerr)
		}
		return nil, nil, err
	}
	if err := o.eng.LogServer(ctx, "backup.created", map[string]any{"id": m.ID, "bytes": m.Size(), "files": len(m.Files)}); err != nil {
		return m, nil, err
	}
	log.Info("backup created", "id", m.ID, "bytes", m.Size(), "dir", b.dir)
	gone, err := backup.Prune(b.dir, now(), b.maxAge, false)
	if err != nil {
		log.Error("backup prune failed", "err", err)
		return m, gone, err
	}
	if len(gone) > 0 {
		ids := make([]string, len(gone))
		for i, g := range gone {
			ids[i] = g.ID
		}
		if err := o.eng.LogServer(ctx, "backup.pruned", map[string]any{"ids": ids, "max_age": b.maxAge.String()}); err != nil {
			return m, gone, err
		}
		log.Info("backups pruned", "ids", ids)
	}
	return m, gone, nil
}
