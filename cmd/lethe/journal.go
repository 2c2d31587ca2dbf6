package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/sqlite"
)

// replayAfterRestore runs at every open of a SQLite data folder, before
// anything is served: when the folder was restored from a backup (the
// marker backup.Restore leaves), every record the erasure journal names
// as deleted or anonymized since it was created is deleted or anonymized
// again, audited with counts, the database is rebuilt (VACUUM) so that
// the erased bytes leave the disk, and only then is the marker removed. A
// replay cut short by a crash runs again at the next open.
func replayAfterRestore(ctx context.Context, dir string, j *journal.Journal, eng *engine.Engine, st *sqlite.Store, log *slog.Logger) error {
	r, err := backup.ReadRestored(dir)
	if err != nil || r == nil {
		return err
	}
	due, named, err := j.Verdict()
	if err != nil {
		return fmt.Errorf("replay the erasure journal: %w", err)
	}
	res, err := eng.ReplayErasures(ctx, due)
	if err != nil {
		return fmt.Errorf("replay the erasure journal after the restore of backup %s: %w", r.Backup, err)
	}
	// A rebuild, not only a checkpoint: thousands of deletions at once
	// rebalance pages, and the free space of a live page may still hold
	// bytes of a deleted row.
	if err := st.Vacuum(ctx); err != nil {
		return fmt.Errorf("replay the erasure journal: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, backup.RestoredName)); err != nil {
		return fmt.Errorf("replay the erasure journal: %w", err)
	}
	log.Info("restored data: erasures since the backup done again", "backup", r.Backup, "journal_records", named,
		"scanned", res.Scanned, "deleted", res.Deleted, "anonymized", res.Anonymized)
	return nil
}
