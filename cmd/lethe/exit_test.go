package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// newDataDir creates a data folder through the path "lethe serve" takes
// on its first start, without serving.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	df := dataFlags{dir: dir}
	o, err := df.open(context.Background(), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExitCode_OneCodePerClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"usage", fmt.Errorf("%w: --limit: want 1 to 1000", errUsage), exitUsage},
		{"cobra refused the command line", &usageError{err: errors.New(`unknown flag: --nope`), path: "lethe sweep"}, exitUsage},
		{"field error", fmt.Errorf("put: %w", &lethe.FieldError{Field: "fields.email", Reason: "not an e-mail address"}), exitInvalid},
		{"invalid", fmt.Errorf("%w: bad period", lethe.ErrInvalid), exitInvalid},
		{"conflict", fmt.Errorf("tenant shop: %w", lethe.ErrConflict), exitInvalid},
		{"legal hold", fmt.Errorf("%w until 2036-01-01: invoicing", lethe.ErrHeld), exitInvalid},
		{"collection switched off", fmt.Errorf("%w: off", lethe.ErrDisabled), exitInvalid},
		{"not found", fmt.Errorf("record: %w", lethe.ErrNotFound), exitNotFound},
		{"unavailable", fmt.Errorf("%w: connection refused", lethe.ErrUnavailable), exitUnavailable},
		{"disk full", fmt.Errorf("insert: %w", lethe.ErrStorageFull), exitUnavailable},
		{"wrong master key", fmt.Errorf("%w: other key", keyring.ErrWrongMasterKey), exitMasterKey},
		{"missing master key", fmt.Errorf("%w: key file not found", errKey), exitMasterKey},
		{"anything else", errors.New("audit chain broken"), exitFailure},
		{"decryption failure is not input", fmt.Errorf("open: %w", lethe.ErrCrypto), exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestMessage_PutsJoinedFieldErrorsOnOneLine(t *testing.T) {
	err := errors.Join(&lethe.FieldError{Field: "id", Reason: "too long"}, &lethe.FieldError{Field: "fields.plz", Reason: "want a string"})
	if got, want := message(err), "id: too long; fields.plz: want a string"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestRun_ExitCodesThroughTheCommandLine(t *testing.T) {
	dir := newDataDir(t)
	if _, stderr, code := reqCLI("tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir); code != 0 {
		t.Fatalf("create tenant: exit %d\n%s", code, stderr)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    int
		wantMsg string
	}{
		{"unknown flag", []string{"sweep", "--nope", "--data", dir}, exitUsage, `see "lethe sweep --help"`},
		{"unknown command", []string{"sweeep"}, exitUsage, "unknown command"},
		{"missing argument", []string{"tenants", "show", "--data", dir}, exitUsage, "accepts 1 arg"},
		{"missing required flag", []string{"keys", "list", "--data", dir}, exitUsage, `"tenant"`},
		{"bad flag value", []string{"records", "list", "--tenant", "shop", "-c", "orders", "--limit", "0", "--data", dir}, exitUsage, "--limit"},
		{"unparsable flag value", []string{"serve", "--sweep-interval", "soon", "--data", dir}, exitUsage, "sweep-interval"},
		{"invalid input names the field", []string{"tenants", "create", "Not Valid", "--pack", "chatbot", "--data", dir}, exitInvalid, "id: want 1-63"},
		{"conflict is refused input", []string{"tenants", "create", "shop", "--pack", "chatbot", "--data", dir}, exitInvalid, ""},
		{"unknown tenant", []string{"tenants", "show", "nope", "--data", dir}, exitNotFound, ""},
		{"unknown record", []string{"records", "get", "x", "--tenant", "shop", "-c", "orders", "--data", dir}, exitNotFound, ""},
		{"no data in the folder", []string{"tenants", "list", "--data", filepath.Join(t.TempDir(), "none")}, exitNotFound, "no Lethe data"},
		{"database down", []string{"tenants", "list", "--database-url", "postgres://lethe:pw@" + freeAddr(t) + "/lethe?connect_timeout=2"}, exitUnavailable, ""},
		{"missing master key", []string{"tenants", "list", "--data", dir, "--master-key-file", filepath.Join(t.TempDir(), "absent.key")}, exitMasterKey, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := reqCLI(tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.wantMsg) {
				t.Errorf("message lacks %q:\n%s", tc.wantMsg, stderr)
			}
			if strings.Contains(stderr, "\n") {
				t.Errorf("message is not one line: %q", stderr)
			}
		})
	}
}
