package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// dataFlags are the flags every command that opens the data shares.
type dataFlags struct {
	dir     string
	keyFile string
	policy  string
}

func (f *dataFlags) register(cmd *cobra.Command, env envFunc) {
	cmd.Flags().StringVar(&f.dir, "data", env.or("LETHE_DATA", "./lethe-data"), "data folder (SQLite database and, by default, the master key file) [$LETHE_DATA]")
	cmd.Flags().StringVar(&f.keyFile, "master-key-file", env("LETHE_MASTER_KEY_FILE"), "master key file (default DATA/master.key) [$LETHE_MASTER_KEY_FILE]")
	cmd.Flags().StringVar(&f.policy, "policy", env("LETHE_POLICY"), "an application policy file (YAML) used beside the packs [$LETHE_POLICY]")
}

func (f *dataFlags) dbPath() string { return filepath.Join(f.dir, "lethe.db") }

func (f *dataFlags) keyPath() string {
	if f.keyFile != "" {
		return f.keyFile
	}
	return filepath.Join(f.dir, "master.key")
}

// opened is a data folder ready for use.
type opened struct {
	store *sqlite.Store
	eng   *engine.Engine
}

func (o *opened) Close() error {
	o.eng.Close()
	return o.store.Close()
}

// open checks everything that can be checked before a byte is written:
// the policy file parses, the master key is present and readable, and it
// is the key the data was created with (read from the database without
// writing to it). Only then is the database opened for writing. A new data
// folder gets a new key file; an existing one never does, since a new key
// could not open the old data.
func (f *dataFlags) open(ctx context.Context, create bool, log *slog.Logger) (*opened, error) {
	var extra *policy.Policy
	if f.policy != "" {
		p, err := policy.LoadFile(f.policy)
		if err != nil {
			return nil, err
		}
		extra = p
	}
	_, err := os.Stat(f.dbPath())
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if !exists && !create {
		return nil, fmt.Errorf("%w: no Lethe data in %s (start \"lethe serve --data %s\" first)", errUsage, f.dir, f.dir)
	}
	var kek *keyring.FileKEK
	if exists {
		kek, err = keyring.OpenKeyFile(f.keyPath())
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: key file %s not found; the data in %s cannot be opened without the master key it was created with", errKey, f.keyPath(), f.dir)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errKey, err)
		}
		if id, err := sqlite.PeekMeta(f.dbPath(), "kek_id"); err == nil && string(id) != kek.ID() {
			return nil, fmt.Errorf("%w: %s holds master key %s, but the data in %s was created with %s; nothing was changed", keyring.ErrWrongMasterKey, f.keyPath(), kek.ID(), f.dir, id)
		}
	} else {
		if err := os.MkdirAll(f.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		// SQLite gives its -wal and -shm files the database file's mode:
		// create it owner-only before SQLite does.
		db, err := os.OpenFile(f.dbPath(), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database file: %w", err)
		}
		db.Close()
		var created bool
		kek, created, err = keyring.LoadOrCreateKeyFile(f.keyPath())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errKey, err)
		}
		if created {
			log.Info("created master key file; back it up: without it the data cannot be read", "path", f.keyPath())
		}
	}
	st, err := sqlite.Open(ctx, f.dbPath(), sqlite.Options{})
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Extra: extra, Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	if !exists {
		// The key id must reach the main database file, where the
		// read-only pre-flight check of the next start looks for it.
		if err := st.Checkpoint(ctx); err != nil {
			eng.Close()
			st.Close()
			return nil, err
		}
	}
	return &opened{store: st, eng: eng}, nil
}
