package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// backupFlags are the flags of the backup commands.
type backupFlags struct {
	df   dataFlags
	dir  string
	json bool
}

func (f *backupFlags) register(cmd *cobra.Command, env envFunc) {
	f.df.register(cmd, env)
	cmd.Flags().StringVar(&f.dir, "backups", env.or("LETHE_BACKUPS", "./lethe-backups"), "where the backups are: a folder (one folder each), or s3://BUCKET[/PREFIX]?region=R[&endpoint=URL&use_path_style=true] (AWS SDK credentials) [$LETHE_BACKUPS]")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
}

// key reads the master key of the data folder without opening the
// database: a server may be running on it. For an existing database it
// must be the key the data was created with.
func (f *backupFlags) key(ctx context.Context) (keyring.Wrapper, error) {
	if _, isFile := f.df.fileKey(); !isFile {
		// A KMS master key (--master-key): opened, and checked against
		// the data's, as by every data command.
		m, err := f.df.openMaster(ctx, false, f.df.dir, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		if id, err := sqlite.PeekMeta(f.df.dbPath(), metaKEKID); err == nil && !m.Knows(string(id)) {
			return nil, fmt.Errorf("%w: %s is not the master key the data in %s was created with (%s)", keyring.ErrWrongMasterKey, m.Describe(), f.df.dir, id)
		}
		return m, nil
	}
	kek, err := keyring.OpenKeyFile(f.df.keyPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: key file %s not found; backups are wrapped by the master key", errKey, f.df.keyPath())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKey, err)
	}
	if id, err := sqlite.PeekMeta(f.df.dbPath(), metaKEKID); err == nil && !keyring.Knows(kek, string(id)) {
		return nil, fmt.Errorf("%w: %s holds master key %s, but the data in %s was created with %s", keyring.ErrWrongMasterKey, f.df.keyPath(), kek.ID(), f.df.dir, id)
	}
	return kek, nil
}

func (f *backupFlags) postgres() error {
	if f.df.databaseURL() != "" {
		return withKind(lethe.ErrInvalid, "lethe backup works on a SQLite data folder; back PostgreSQL up with pg_dump (see README.md, \"Backups\")")
	}
	return nil
}

// sourcesOf lists what a backup of the SQLite database at dbPath holds:
// the database, its manager log (ADR 0008) and the erasure journal. copy
// writes the journal; nil copies the file as it stands (another process
// may append to it: a torn last line is skipped on reading).
func sourcesOf(dbPath string, copyJournal func(io.Writer) error) []backup.Source {
	jpath := journal.Path(dbPath)
	if copyJournal == nil {
		copyJournal = func(w io.Writer) error {
			in, err := os.Open(jpath)
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = io.Copy(w, in)
			return err
		}
	}
	src := []backup.Source{
		backup.SQLiteSource(filepath.Base(dbPath), dbPath),
		backup.SQLiteSource(filepath.Base(sqlite.ManagerLogPath(dbPath)), sqlite.ManagerLogPath(dbPath)),
	}
	if _, err := os.Stat(jpath); err == nil {
		src = append(src, backup.FileSource(journal.FileName, copyJournal))
	}
	return src
}

// byteBar is a progress bar of bytes on w when w is a terminal; nil (no
// progress shown) otherwise.
func byteBar(w io.Writer, what string) func(done, total int64) {
	if !isTerminal(w) {
		return nil
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish())
	return func(done, total int64) {
		if total > bar.GetMax64() {
			bar.ChangeMax64(total)
		}
		bar.Set64(done)
	}
}

func backupCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Create, list, verify, restore and prune encrypted backups",
		Long: `Backups of a SQLite data folder: a consistent snapshot of the database, its
manager log and the erasure journal, taken online (a server may keep
running), each file encrypted with AES-256-GCM under a new backup key that
the master key wraps, with SHA-256 sums in the backup's manifest.json. They
are written to --backups (default ./lethe-backups), one folder per backup,
named by its time (UTC), or to an S3-compatible bucket
(--backups 's3://BUCKET/PREFIX?region=R', endpoint=URL for MinIO and
others; credentials from the AWS SDK's environment, profile or role). Keep the master key file apart from the backups:
a backup cannot be read without it.

"restore" writes a backup into a data folder without a database. The next
start then deletes or anonymizes again every record erased since the
backup was taken, from the erasure journal kept beside the database
(lethe-erasures.journal: keyed hashes of record references, no values),
before it serves: keep that file, and the master key, when the database
is lost. PostgreSQL: see README.md, "Backups".`,
	}
	cmd.AddCommand(backupCreateCmd(env), backupListCmd(env), backupVerifyCmd(env), backupRestoreCmd(env), backupPruneCmd(env))
	return cmd
}

func backupCreateCmd(env envFunc) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Write a new encrypted backup of the data folder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.postgres(); err != nil {
				return err
			}
			if _, err := os.Stat(f.df.dbPath()); err != nil {
				return withKind(lethe.ErrNotFound, "no Lethe data in %s", f.df.dir)
			}
			kek, err := f.key(cmd.Context())
			if err != nil {
				return err
			}
			m, err := backup.Create(cmd.Context(), backup.Options{Dir: f.dir, Temp: f.df.dir, Sources: sourcesOf(f.df.dbPath(), nil),
				Wrapper: kek, Progress: byteBar(cmd.ErrOrStderr(), "backup")})
			if err != nil {
				return err
			}
			return printManifest(cmd.OutOrStdout(), f.json, m)
		},
	}
	f.register(cmd, env)
	return cmd
}

func printManifest(w io.Writer, asJSON bool, m *backup.Manifest) error {
	if asJSON {
		return printJSON(w, m)
	}
	_, err := fmt.Fprintf(w, "%s\t%d files\t%d bytes\n", m.ID, len(m.Files), m.Size())
	return err
}

func backupListCmd(env envFunc) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the finished backups, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := backup.List(f.dir)
			if err != nil {
				return err
			}
			if f.json {
				if all == nil {
					all = []*backup.Manifest{}
				}
				return printJSON(cmd.OutOrStdout(), all)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "ID\tCREATED\tFILES\tBYTES")
			for _, m := range all {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", m.ID, m.CreatedAt.Format(time.RFC3339), len(m.Files), m.Size())
			}
			return tw.Flush()
		},
	}
	f.register(cmd, env)
	return cmd
}

// find reads the backup an argument names; "latest" is the newest.
func (f *backupFlags) find(id string) (*backup.Manifest, error) {
	if id != "latest" {
		return backup.Find(f.dir, id)
	}
	all, err := backup.List(f.dir)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, withKind(lethe.ErrNotFound, "no backups in %s", f.dir)
	}
	return all[len(all)-1], nil
}

func backupVerifyCmd(env envFunc) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   "verify ID|latest",
		Short: "Check a backup's SHA-256 sums and decrypt it to nowhere",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.find(args[0])
			if err != nil {
				return err
			}
			kek, err := f.key(cmd.Context())
			if err != nil {
				return err
			}
			if err := backup.Verify(cmd.Context(), f.dir, m, kek, byteBar(cmd.ErrOrStderr(), "verify")); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": m.ID, "ok": true})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s ok\n", m.ID)
			return err
		},
	}
	f.register(cmd, env)
	return cmd
}

func backupRestoreCmd(env envFunc) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{
		Use:   "restore ID|latest",
		Short: "Restore a backup into a data folder without a database",
		Long: `Restore a backup into --data, which must hold no database (lethe.db, its
manager log, their -wal and -shm files): only the master key file and the
erasure journal may be there. The whole backup is checked and decrypted
once before anything is written. An erasure journal already in the folder
is kept (it is newer than any backup's copy); without one, the copy of the
newest backup in --backups is restored (it knows the erasures up to that
backup, later than an older backup's own copy). The next start (serve, or any command that opens the data)
deletes or anonymizes again everything the journal names as erased since,
before it serves, and logs the counts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.postgres(); err != nil {
				return err
			}
			m, err := f.find(args[0])
			if err != nil {
				return err
			}
			var kek keyring.Wrapper
			if _, isFile := f.df.fileKey(); isFile {
				kek, err = keyring.OpenKeyFile(f.df.keyPath())
				if err != nil {
					return fmt.Errorf("%w: %v", errKey, err)
				}
			} else if kek, err = f.df.openMaster(cmd.Context(), false, f.df.dir, slog.New(slog.DiscardHandler)); err != nil {
				return err
			}
			// Without a journal in the folder, the newest backup's copy is
			// the most complete one left: it knows the erasures up to
			// that backup, later than this one's.
			o := backup.RestoreOptions{DataDir: f.df.dir, Keep: map[string]bool{journal.FileName: true}, Progress: byteBar(cmd.ErrOrStderr(), "restore")}
			if _, err := os.Stat(f.df.dbPath()); err == nil {
				return withKind(lethe.ErrConflict, "%s already holds lethe.db; restore only into a folder without a database (move it away first)", f.df.dir)
			}
			newest, err := f.newestJournal(m)
			if err != nil {
				return err
			}
			if newest != nil {
				if err := backup.RestoreFile(cmd.Context(), f.dir, newest, kek, journal.FileName, f.df.dir); err != nil {
					return err
				}
				o.Skip = map[string]bool{journal.FileName: true}
			}
			if err := backup.Restore(cmd.Context(), f.dir, m, kek, o); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": m.ID, "data": f.df.dir})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s; the next start replays the erasure journal\n", m.ID, f.df.dir)
			return err
		},
	}
	f.register(cmd, env)
	return cmd
}

// newestJournal is the newest backup after m holding an erasure journal,
// when the data folder has no journal of its own; nil otherwise.
func (f *backupFlags) newestJournal(m *backup.Manifest) (*backup.Manifest, error) {
	if _, err := os.Stat(journal.Path(f.df.dbPath())); err == nil {
		return nil, nil
	}
	all, err := backup.List(f.dir)
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if !all[i].CreatedAt.After(m.CreatedAt) {
			return nil, nil
		}
		for _, file := range all[i].Files {
			if file.Name == journal.FileName {
				return all[i], nil
			}
		}
	}
	return nil, nil
}

func backupPruneCmd(env envFunc) *cobra.Command {
	var (
		f      backupFlags
		maxAge time.Duration
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete the backups older than --older-than (default 60d)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gone, err := prune(cmd.Context(), f.dir, time.Now(), maxAge, dryRun)
			if err != nil {
				return err
			}
			if f.json {
				ids := []string{}
				for _, m := range gone {
					ids = append(ids, m.ID)
				}
				return printJSON(cmd.OutOrStdout(), map[string]any{"pruned": ids, "dry_run": dryRun})
			}
			for _, m := range gone {
				fmt.Fprintln(cmd.OutOrStdout(), m.ID)
			}
			return nil
		},
	}
	f.register(cmd, env)
	cmd.Flags().Var(intervalVar(&maxAge, backup.DefaultMaxAge), "older-than", "age beyond which backups are deleted (C10: 60d)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	return cmd
}

func prune(_ context.Context, dir string, now time.Time, maxAge time.Duration, dryRun bool) ([]*backup.Manifest, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: --older-than must be positive", errUsage)
	}
	return backup.Prune(dir, now, maxAge, dryRun)
}
