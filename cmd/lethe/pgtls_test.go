package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/pgtest"
	"github.com/lethe-privacy/lethe/tlsserve"
)

// TestPostgreSQL_VerifiesTheServerCertificateWhenTheURLAsksForIt: with
// sslmode=verify-full the connection trusts the sslrootcert of the URL and
// nothing else; a server whose certificate that root did not sign is
// refused with a one-line message that names the certificate problem, not
// the password.
func TestPostgreSQL_VerifiesTheServerCertificateWhenTheURLAsksForIt(t *testing.T) {
	dsn := withPassword(t, pgtest.DSN(t), "s3cret-pw")
	root := pgtest.RootCert(t)
	verify := strings.Replace(dsn, "sslmode=disable", "sslmode=verify-full&sslrootcert="+root, 1)
	if verify == dsn {
		t.Fatalf("no sslmode in %s", redactDSN(dsn))
	}
	key := filepath.Join(t.TempDir(), "master.key")
	df := dataFlags{dbURL: verify, keyFile: key}
	o, err := df.open(context.Background(), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open with verify-full and the server's root: %v", err)
	}
	o.Close()
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--database-url", verify, "--master-key-file", key)

	otherDir := t.TempDir()
	other, _, err := tlsserve.SelfSigned(otherDir, "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(dsn, "sslmode=disable", "sslmode=verify-full&sslrootcert="+other, 1)
	_, stderr, code := reqCLI("tenants", "list", "--database-url", wrong, "--master-key-file", key)
	if code != exitUnavailable || !strings.Contains(stderr, "certificate") || strings.Contains(stderr, "s3cret-pw") {
		t.Fatalf("a server certificate the root did not sign: exit %d, want %d naming the certificate without the password:\n%s", code, exitUnavailable, stderr)
	}
	t.Logf("refused: %s", stderr)
	if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("the message is not one line:\n%s", stderr)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
}
