package keyring

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring/transittest"
)

func openTestTransit(t *testing.T, srv *transittest.Server, opts MasterOptions) *Transit {
	t.Helper()
	raw, err := srv.URL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if opts.VaultToken == "" && opts.VaultRoleID == "" {
		opts.VaultToken = srv.Token
	}
	m, _, err := OpenMaster(context.Background(), raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Transit)
}

func TestTransit_WrapRotateRewrapDestroy(t *testing.T) {
	ctx := context.Background()
	srv := transittest.New(true)
	defer srv.Close()
	m := openTestTransit(t, srv, MasterOptions{})
	dek := bytes.Repeat([]byte{7}, TenantKeySize)

	w1, id1, err := m.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if id1 != "vault:transit/lethe:v1" || !strings.HasPrefix(string(w1), "vault:v1:") {
		t.Fatalf("wrap: id %q, ciphertext %.12q", id1, w1)
	}
	if bytes.Contains(w1, dek) {
		t.Fatal("wrapped key holds the key in the clear")
	}
	id2, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id2 != "vault:transit/lethe:v2" || m.ID() != id2 || !m.Knows(id1) || !m.Knows(id2) {
		t.Fatalf("after rotate: new %q, ID %q, knows v1 %v", id2, m.ID(), m.Knows(id1))
	}
	_, idNew, err := m.Wrap(ctx, dek)
	if err != nil || idNew != id2 {
		t.Fatalf("wrap after rotate: %q, %v; want the new version", idNew, err)
	}
	got, err := m.Unwrap(ctx, w1, id1)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap of the old version: %v", err)
	}
	w2, idRe, err := Rewrap(ctx, m, w1, id1)
	if err != nil || idRe != id2 || !strings.HasPrefix(string(w2), "vault:v2:") {
		t.Fatalf("rewrap: %q %.12q %v", idRe, w2, err)
	}
	if got, err := m.Unwrap(ctx, w2, idRe); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap of the rewrapped key: %v", err)
	}
	if err := m.Destroy(ctx, id2); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy of the current version: %v, want ErrConflict", err)
	}
	if err := m.Destroy(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if m.Knows(id1) {
		t.Error("destroyed version still known")
	}
	if vs, _ := m.Versions(ctx); len(vs) != 1 || vs[0] != id2 {
		t.Errorf("versions after destroy: %v", vs)
	}
	if _, err := m.Unwrap(ctx, w1, id1); !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("unwrap under a destroyed version: %v, want ErrWrongMasterKey", err)
	}
}

func TestTransit_AppRoleLogsInAgainWhenTheTokenExpires(t *testing.T) {
	ctx := context.Background()
	srv := transittest.New(true)
	defer srv.Close()
	m := openTestTransit(t, srv, MasterOptions{VaultRoleID: srv.RoleID, VaultSecretID: srv.SecretID})
	w, id, err := m.Wrap(ctx, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv.Revoke()
	if _, err := m.Unwrap(ctx, w, id); err != nil {
		t.Fatalf("unwrap after the token was revoked: %v (no new login?)", err)
	}
	raw, _ := srv.URL(t.TempDir())
	_, _, err = OpenMaster(ctx, raw, MasterOptions{VaultRoleID: srv.RoleID, VaultSecretID: "wrong"})
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("login with a wrong secret: %v, want ErrWrongMasterKey", err)
	}
}

// TestTransit_ErrorKinds: what a caller must tell apart. An unreachable or
// sealed server is "retry later" (cached keys serve on); a refused token,
// a missing key or a ciphertext of another key is a wrong master key.
func TestTransit_ErrorKinds(t *testing.T) {
	ctx := context.Background()
	srv := transittest.New(true)
	defer srv.Close()
	m := openTestTransit(t, srv, MasterOptions{})
	w, id, err := m.Wrap(ctx, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := srv.URL(t.TempDir())
	tampered := bytes.Clone(w)
	tampered[len(tampered)-3] ^= 1

	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"wrong token", func() error {
			_, _, err := OpenMaster(ctx, raw, MasterOptions{VaultToken: "nope"})
			return err
		}, ErrWrongMasterKey},
		{"no such key", func() error {
			_, _, err := OpenMaster(ctx, strings.Replace(raw, "/lethe?", "/other?", 1), MasterOptions{VaultToken: srv.Token})
			return err
		}, ErrWrongMasterKey},
		{"no credentials", func() error {
			_, _, err := OpenMaster(ctx, raw, MasterOptions{})
			return err
		}, ErrWrongMasterKey},
		{"kek id of another key", func() error {
			_, err := m.Unwrap(ctx, w, "vault:transit/other:v1")
			return err
		}, ErrWrongMasterKey},
		{"file kek id", func() error {
			_, err := m.Unwrap(ctx, w, testKEK(t, 1).ID())
			return err
		}, ErrWrongMasterKey},
		{"tampered ciphertext", func() error {
			_, err := m.Unwrap(ctx, tampered, id)
			return err
		}, ErrWrongMasterKey},
		{"untrusted certificate", func() error {
			u, _ := url.Parse(raw)
			u.RawQuery = ""
			_, _, err := OpenMaster(ctx, u.String(), MasterOptions{VaultToken: srv.Token})
			return err
		}, lethe.ErrUnavailable},
		{"sealed", func() error {
			srv.Seal()
			defer srv.Unseal()
			_, err := m.Unwrap(ctx, w, id)
			return err
		}, lethe.ErrUnavailable},
		{"plain http off loopback", func() error {
			_, _, err := OpenMaster(ctx, "vault+http://192.0.2.1:8200/transit/lethe", MasterOptions{VaultToken: "x"})
			return err
		}, lethe.ErrInvalid},
		{"unknown scheme", func() error {
			_, _, err := OpenMaster(ctx, "hsm://alias/lethe", MasterOptions{})
			return err
		}, lethe.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), srv.Token) {
				t.Fatalf("error message carries the token: %v", err)
			}
		})
	}
	srv.Close()
	if _, err := m.Unwrap(ctx, w, id); !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("unwrap with the server gone: %v, want ErrUnavailable", err)
	}
}

// TestKeyring_ServesCachedKeysThroughAnOutage: keys loaded before the KMS
// went away keep sealing and opening for CacheTTL+OutageGrace, Health says
// the KMS is unreachable, and past the grace they are dropped.
func TestKeyring_ServesCachedKeysThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	srv := transittest.New(true)
	defer srv.Close()
	m := openTestTransit(t, srv, MasterOptions{})
	store := newMemStore()
	now := fixedNow
	kr := New(store, m)
	kr.Now = func() time.Time { return now }
	kr.CacheTTL, kr.OutageGrace = time.Hour, 10*time.Minute
	if err := kr.CreateTenant(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	ad := AD{Tenant: "t", Collection: "c", Record: "r", Field: "f"}
	tk := tenantKeys(t, kr, "t")
	env, err := tk.Seal([]byte("erika"), ad)
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls.Load()
	now = now.Add(30 * time.Minute)
	if _, err := kr.Tenant(ctx, "t"); err != nil || srv.Calls.Load() != calls {
		t.Fatalf("within the TTL: %v, %d KMS calls (want none)", err, srv.Calls.Load()-calls)
	}

	srv.Seal()
	now = now.Add(35 * time.Minute) // 65 min: past the TTL, inside the grace
	tk, err = kr.Tenant(ctx, "t")
	if err != nil {
		t.Fatalf("during a short outage: %v, want the cached keys", err)
	}
	if pt, err := tk.Open(env, ad); err != nil || string(pt) != "erika" {
		t.Fatalf("open on cached keys: %q, %v", pt, err)
	}
	if h := kr.Health(); h.Reachable || h.Since.IsZero() || !strings.Contains(h.Error, "503") {
		t.Fatalf("health during the outage: %+v", h)
	}

	now = now.Add(10 * time.Minute) // 75 min: past TTL+grace
	if _, err := kr.Tenant(ctx, "t"); !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("past the grace: %v, want ErrUnavailable (keys dropped)", err)
	}
	if kr.Loaded("t") != nil {
		t.Fatal("keys still held in memory past the grace")
	}

	srv.Unseal()
	tk, err = kr.Tenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := tk.Open(env, ad); err != nil || string(pt) != "erika" {
		t.Fatalf("open after the outage: %q, %v", pt, err)
	}
	if h := kr.Health(); !h.Reachable {
		t.Fatalf("health after the outage: %+v", h)
	}
}

// TestTransit_RealVault runs the client against a real Vault or OpenBao
// when VAULT_ADDR and VAULT_TOKEN are set (with a transit engine at
// $LETHE_VAULT_TRANSIT, default "transit", and a key lethe-test it may
// rotate). No such server can be had where the suite usually runs.
func TestTransit_RealVault(t *testing.T) {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN not set: no real Vault to test against")
	}
	mount := os.Getenv("LETHE_VAULT_TRANSIT")
	if mount == "" {
		mount = "transit"
	}
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	scheme := "vault"
	if u.Scheme == "http" {
		scheme = "vault+http"
	}
	q := ""
	if ca := os.Getenv("VAULT_CACERT"); ca != "" {
		q = "?ca_cert=" + url.QueryEscape(ca)
	}
	ctx := context.Background()
	m, _, err := OpenMaster(ctx, scheme+"://"+u.Host+"/"+mount+"/lethe-test"+q, MasterOptions{VaultToken: token})
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{9}, 32)
	w, id, err := m.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	w2, id2, err := Rewrap(ctx, m, w, id)
	if err != nil || id2 == id {
		t.Fatalf("rewrap: %q, %v", id2, err)
	}
	got, err := m.Unwrap(ctx, w2, id2)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap: %v", err)
	}
}
