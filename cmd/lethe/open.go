package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/postgres"
	"github.com/lethe-privacy/lethe/sqlite"
)

// dataFlags are the flags every command that opens the data shares.
type dataFlags struct {
	dir     string
	keyFile string
	policy  string
	// dbURL, when set, selects the PostgreSQL store: the data lives in that
	// database, and only the master key file stays local.
	dbURL string
	// dbURLEnv is LETHE_DATABASE_URL, used when the flag is not given. It
	// is not the flag's default, since --help prints defaults, password
	// and all.
	dbURLEnv string
	// masterKey is --master-key: a URL naming the master key provider
	// (file://, vault://, vault+http://); "" for the key file.
	masterKey string
	// vault holds the Vault credentials from the environment, never
	// from flags (which --help and ps would show).
	vault keyring.MasterOptions
}

func (f *dataFlags) register(cmd *cobra.Command, env envFunc) {
	cmd.Flags().StringVar(&f.dir, "data", env.or("LETHE_DATA", "./lethe-data"), "data folder (SQLite database and, by default, the master key file) [$LETHE_DATA]")
	cmd.Flags().StringVar(&f.keyFile, "master-key-file", env("LETHE_MASTER_KEY_FILE"), "master key file (default DATA/master.key) [$LETHE_MASTER_KEY_FILE]")
	cmd.Flags().StringVar(&f.policy, "policy", env("LETHE_POLICY"), "an application policy file (YAML) used beside the packs [$LETHE_POLICY]")
	cmd.Flags().StringVar(&f.dbURL, "database-url", "", "PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DB) instead of DATA/lethe.db; several instances may share it [$LETHE_DATABASE_URL]")
	cmd.Flags().StringVar(&f.masterKey, "master-key", env("LETHE_MASTER_KEY"), "master key provider URL: file:///PATH, vault://HOST:PORT/MOUNT/KEY[?ca_cert=FILE] (token from $VAULT_TOKEN, or AppRole $VAULT_ROLE_ID and $VAULT_SECRET_ID), vault+http://127.0.0.1:PORT/MOUNT/KEY, awskms://KEY_ID?region=R[&endpoint=URL] (AWS SDK credentials); default the key file [$LETHE_MASTER_KEY]")
	f.dbURLEnv = env("LETHE_DATABASE_URL")
	f.vault = keyring.MasterOptions{VaultToken: env("VAULT_TOKEN"), VaultRoleID: env("VAULT_ROLE_ID"),
		VaultSecretID: env("VAULT_SECRET_ID"), VaultNamespace: env("VAULT_NAMESPACE")}
}

// fileKey reports whether the master key is a key file (the default, or
// a file:// URL), and its path.
func (f *dataFlags) fileKey() (string, bool) {
	if f.masterKey == "" {
		return f.keyPath(), true
	}
	if p, ok := strings.CutPrefix(f.masterKey, "file://"); ok {
		return p, true
	}
	if p, ok := strings.CutPrefix(f.masterKey, "file:"); ok {
		return p, true
	}
	if !strings.Contains(f.masterKey, "://") {
		return f.masterKey, true
	}
	return "", false
}

// openMaster opens the configured master key. A key file is created only
// when create is set (a new data folder or database); a KMS key is never
// created, only used. Every error carries errKey or ErrWrongMasterKey
// (exit 6), or lethe.ErrUnavailable when a KMS cannot be reached (exit
// 5): nothing has been written either way.
func (f *dataFlags) openMaster(ctx context.Context, create bool, where string, log *slog.Logger) (keyring.Master, error) {
	path, isFile := f.fileKey()
	if !isFile {
		opts := f.vault
		m, _, err := keyring.OpenMaster(ctx, f.masterKey, opts)
		if err != nil {
			if errors.Is(err, lethe.ErrUnavailable) || errors.Is(err, keyring.ErrWrongMasterKey) || errors.Is(err, lethe.ErrInvalid) {
				return nil, fmt.Errorf("master key: %w; nothing was changed", err)
			}
			return nil, fmt.Errorf("%w: %v; nothing was changed", errKey, err)
		}
		return m, nil
	}
	if create {
		if err := makeDataDir(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("%w: create key folder: %v", errKey, err)
		}
		// Instances started at once with one shared key file agree on one
		// key: the loser of the race opens the winner's file.
		m, created, err := keyring.LoadOrCreateFileMaster(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errKey, err)
		}
		if created {
			log.Info("created master key file; back it up (and give every instance a copy): without it the data cannot be read", "path", path)
		}
		return m, nil
	}
	m, err := keyring.OpenFileMaster(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: key file %s not found; the data in %s cannot be opened without the master key it was created with", errKey, path, where)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKey, err)
	}
	return m, nil
}

// openTenantMaster opens a tenant's own master key URL (lethe tenants
// set-key) with the same credentials as the instance's; a key file is
// never created for it: the tenant brings the key.
func (f *dataFlags) openTenantMaster(ctx context.Context, url string) (keyring.Wrapper, error) {
	m, _, err := keyring.OpenMaster(ctx, url, f.vault)
	if err != nil && !errors.Is(err, lethe.ErrUnavailable) && !errors.Is(err, keyring.ErrWrongMasterKey) && !errors.Is(err, lethe.ErrInvalid) {
		return nil, fmt.Errorf("%w: %v", errKey, err)
	}
	return m, err
}

// databaseURL is the PostgreSQL database to use, "" for SQLite.
func (f *dataFlags) databaseURL() string {
	if f.dbURL != "" {
		return f.dbURL
	}
	return f.dbURLEnv
}

// where names the data for logs and messages, never with a password.
func (f *dataFlags) where() string {
	if u := f.databaseURL(); u != "" {
		return redactDSN(u)
	}
	return f.dir
}

func (f *dataFlags) dbPath() string { return filepath.Join(f.dir, "lethe.db") }

func (f *dataFlags) keyPath() string {
	if f.keyFile != "" {
		return f.keyFile
	}
	return filepath.Join(f.dir, "master.key")
}

// opened is the data (a folder or a database) ready for use.
type opened struct {
	store lethe.Store
	eng   *engine.Engine
	// journal is the erasure journal of a SQLite data folder (nil on
	// PostgreSQL).
	journal *journal.Journal
	// kek is the master key, which wraps the keys of backups.
	kek keyring.Wrapper
}

func (o *opened) Close() error {
	o.eng.Close()
	err := o.store.Close()
	if o.journal != nil {
		err = errors.Join(err, o.journal.Close())
	}
	return err
}

// open checks everything that can be checked before a byte is written:
// the policy file parses, the master key is present and readable, and it
// is the key the data was created with (read from the database without
// writing to it). Only then is the database opened for writing. A new data
// folder gets a new key file; an existing one never does, since a new key
// could not open the old data. With --database-url the data is on
// PostgreSQL instead (see openPostgres).
func (f *dataFlags) open(ctx context.Context, create bool, log *slog.Logger) (*opened, error) {
	var extra *policy.Policy
	if f.policy != "" {
		p, err := policy.LoadFile(f.policy)
		if err != nil {
			return nil, err
		}
		extra = p
	}
	if dsn := f.databaseURL(); dsn != "" {
		return f.openPostgres(ctx, dsn, create, extra, log)
	}
	_, err := os.Stat(f.dbPath())
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if !exists && !create {
		return nil, withKind(lethe.ErrNotFound, "no Lethe data in %s (start \"lethe serve --data %s\" first)", f.dir, f.dir)
	}
	var kek keyring.Master
	if exists {
		kek, err = f.openMaster(ctx, false, f.dir, log)
		if err != nil {
			return nil, err
		}
		if id, err := sqlite.PeekMeta(f.dbPath(), metaKEKID); err == nil && !kek.Knows(string(id)) {
			return nil, fmt.Errorf("%w: %s holds master key %s, but the data in %s was created with %s; nothing was changed", keyring.ErrWrongMasterKey, kek.Describe(), kek.ID(), f.dir, id)
		}
		// The id alone does not prove a KMS key (a key of that name on
		// another server has it too): unwrap the probe, read-only.
		if p, err := sqlite.PeekMeta(f.dbPath(), metaKEKProbe); err == nil {
			if err := keyring.CheckProbe(ctx, kek, p); err != nil {
				return nil, fmt.Errorf("%s: %w; nothing was changed", kek.Describe(), err)
			}
		}
	} else {
		if err := makeDataDir(f.dir); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		kek, err = f.openMaster(ctx, true, f.dir, log)
		if err != nil {
			return nil, err
		}
	}
	// After the key checks, which change nothing when they fail.
	if err := tightenData(log, f.dir, f.dbPath()); err != nil {
		return nil, err
	}
	j, err := journal.Open(ctx, journal.Path(f.dbPath()), kek)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, f.dbPath(), sqlite.Options{})
	if err != nil {
		j.Close()
		return nil, err
	}
	eng, err := engine.New(ctx, engine.Config{Store: journal.Wrap(st, j, nil), KEK: kek, Extra: extra, Logger: log, OpenTenantMaster: f.openTenantMaster})
	if err != nil {
		st.Close()
		j.Close()
		return nil, err
	}
	if err := replayAfterRestore(ctx, f.dir, j, eng, st, log); err != nil {
		eng.Close()
		st.Close()
		j.Close()
		return nil, err
	}
	if !exists {
		// The key id must reach the main database file, where the
		// read-only pre-flight check of the next start looks for it.
		if err := st.Checkpoint(ctx); err != nil {
			eng.Close()
			st.Close()
			j.Close()
			return nil, err
		}
	}
	return &opened{store: st, eng: eng, journal: j, kek: kek}, nil
}

// metaKEKID is the meta key under which the engine records the id of the
// master key the data was created with.
const metaKEKID = "kek_id"

// metaKEKProbe is the meta key of the master key probe (keyring.NewProbe).
const metaKEKProbe = "kek_probe"

// openPostgres opens the PostgreSQL store of --database-url. The database
// counts as new while no master key id is recorded in it: only then may a
// missing key file be created. A database that holds data needs the key
// file it was created with, copied to every instance; a missing or
// different one stops the start before the engine writes anything.
// Opening applies the store's migrations first (under an advisory lock,
// so that instances may start at once): they add tables, never data.
func (f *dataFlags) openPostgres(ctx context.Context, dsn string, create bool, extra *policy.Policy, log *slog.Logger) (*opened, error) {
	where, password := redactDSN(dsn), dsnPassword(dsn)
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, scrub(err, password))
	}
	kek, err := f.postgresKey(ctx, st, create, where, password, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Extra: extra, Logger: log, OpenTenantMaster: f.openTenantMaster})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &opened{store: st, eng: eng}, nil
}

// postgresKey opens the master key for the database; a key file is
// created only for a new database.
func (f *dataFlags) postgresKey(ctx context.Context, st lethe.Store, create bool, where, password string, log *slog.Logger) (keyring.Master, error) {
	id, err := st.Meta(ctx, metaKEKID)
	switch {
	case errors.Is(err, lethe.ErrNotFound):
		if !create {
			return nil, withKind(lethe.ErrNotFound, "no Lethe data in database %s (start \"lethe serve --database-url ...\" first)", where)
		}
		return f.openMaster(ctx, true, "database "+where, log)
	case err != nil:
		return nil, fmt.Errorf("database %s: read master key id: %w", where, scrub(err, password))
	}
	kek, err := f.openMaster(ctx, false, "database "+where+" (copy it from an instance that has it)", log)
	if err != nil {
		return nil, err
	}
	if !kek.Knows(string(id)) {
		return nil, fmt.Errorf("%w: %s holds master key %s, but the data in database %s was created with %s; nothing was changed", keyring.ErrWrongMasterKey, kek.Describe(), kek.ID(), where, id)
	}
	if p, err := st.Meta(ctx, metaKEKProbe); err == nil {
		if err := keyring.CheckProbe(ctx, kek, p); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing was changed", kek.Describe(), err)
		}
	}
	return kek, nil
}

// pwKeyword finds the password of a keyword/value connection string,
// quoted or not.
var pwKeyword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redactDSN returns a connection string fit for logs: its password, in
// the user part or as a parameter, replaced by xxxxx.
func redactDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return pwKeyword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(database URL that does not parse)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// dsnPassword returns the password a connection string holds, "" when
// none.
func dsnPassword(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		m := pwKeyword.FindStringSubmatch(dsn)
		if m == nil {
			return ""
		}
		return strings.Trim(m[2], "'")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if pw, ok := u.User.Password(); ok {
		return pw
	}
	return u.Query().Get("password")
}

// scrub hides secret in err's message while errors.Is and errors.As still
// see the wrapped error: a driver message must not carry the database
// password into a log or a terminal.
func scrub(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	return &scrubbedError{err: err, secret: secret}
}

type scrubbedError struct {
	err    error
	secret string
}

func (e *scrubbedError) Error() string {
	msg := strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
	if esc := url.QueryEscape(e.secret); esc != e.secret {
		msg = strings.ReplaceAll(msg, esc, "xxxxx")
	}
	return msg
}

func (e *scrubbedError) Unwrap() error { return e.err }
