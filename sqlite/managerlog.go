package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// ManagerLogPath is where the store at path keeps its manager log:
// "lethe.db" keeps it in "lethe-manager-log.db". Every read of decrypted
// PII appends to that log; in a file of its own its commits leave the
// page caches of the main file's readers alone (in WAL mode SQLite empties
// a connection's whole cache at its next read after any commit to the
// file). No transaction spans both files: the manager log takes no entry
// of a batch (lethe.CheckBatchAudit).
func ManagerLogPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-manager-log" + ext
}

// logFile is the file a log's chains live in.
func (s *Store) logFile(log lethe.Log) *file {
	if log == lethe.LogManager {
		return s.managerLog
	}
	return s.file
}

// eachFile calls fn with the entries of each file, the main file's first;
// it fails with errClosed after Close.
func (s *Store) eachFile(entries []*lethe.AuditEntry, fn func(*file, []*lethe.AuditEntry) error) error {
	if s.isClosed() {
		return errClosed
	}
	var main, mlog []*lethe.AuditEntry
	for _, e := range entries {
		if e != nil && e.Log == lethe.LogManager {
			mlog = append(mlog, e)
		} else {
			main = append(main, e)
		}
	}
	for _, part := range []struct {
		f       *file
		entries []*lethe.AuditEntry
	}{{s.file, main}, {s.managerLog, mlog}} {
		if len(part.entries) == 0 {
			continue
		}
		if err := fn(part.f, part.entries); err != nil {
			return err
		}
	}
	return nil
}

// moveManagerLog moves manager-log rows that a store from before the
// manager log had its own file kept in the main file. The copy ignores
// rows already there and the main file lets go of its rows only after the
// copy committed, so a crash in between just copies again at the next
// start.
//
// Whether there is anything to move is read from audit_heads, one row per
// chain, rather than counted in the audit table, which would mean a scan
// at every start: every manager-log append signed its chain's head in its
// own transaction, so manager rows without a manager head do not occur.
func (s *Store) moveManagerLog(ctx context.Context) error {
	const tables = 3
	var found bool
	err := s.file.writer.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM audit_heads WHERE log = 'manager')").Scan(&found)
	if err != nil || !found {
		return mapErr(err)
	}
	conn, err := s.managerLog.writer.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	// The copy is flushed before the main file lets go of its rows.
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		return fmt.Errorf("move manager log: %w", mapErr(err))
	}
	defer s.managerLog.restoreSync(ctx, conn)
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS old", s.file.path); err != nil {
		return fmt.Errorf("move manager log: %w", mapErr(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE old")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("move manager log: %w", mapErr(err))
	}
	defer tx.Rollback()
	for _, q := range [tables]string{
		`INSERT OR IGNORE INTO main.audit (tenant, log, seq, time, actor, event, data, prev, hash)
			SELECT tenant, log, seq, time, actor, event, data, prev, hash FROM old.audit WHERE log = 'manager'`,
		`INSERT OR REPLACE INTO main.audit_heads (tenant, log, seq, hash, time, mac)
			SELECT tenant, log, seq, hash, time, mac FROM old.audit_heads WHERE log = 'manager'`,
		`INSERT OR IGNORE INTO main.audit_checkpoints (tenant, log, seq, hash, time, mac)
			SELECT tenant, log, seq, hash, time, mac FROM old.audit_checkpoints WHERE log = 'manager'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("move manager log: %w", mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("move manager log: %w", mapErr(err))
	}
	return s.file.write(ctx, func(tx *sql.Tx) error {
		for _, t := range [tables]string{"audit", "audit_heads", "audit_checkpoints"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE log = 'manager'"); err != nil {
				return fmt.Errorf("move manager log: %w", err)
			}
		}
		return nil
	})
}
