package keyring_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRotate_AnotherInstanceStopsSealingUnderTheRetiredVersion: two
// keyrings on one SQLite store stand for two processes. After one rotates,
// the other seals under the retired version only until its next version
// check (every few seconds), then under the new one; what either sealed
// opens in both.
func TestRotate_AnotherInstanceStopsSealingUnderTheRetiredVersion(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := keyring.NewFileMaster(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, b := keyring.New(st, m), keyring.New(st, m)
	a.Now, b.Now = c.now, c.now
	if err := a.CreateTenant(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	ad := keyring.AD{Tenant: "t", Collection: "c", Record: "r", Field: "f"}
	seal := func(kr *keyring.Keyring) []byte {
		t.Helper()
		tk, err := kr.Tenant(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		env, err := tk.Seal([]byte("x"), ad)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	version := func(env []byte) uint32 { v, _ := keyring.KeyVersion(env); return v }
	if v := version(seal(b)); v != 1 {
		t.Fatalf("b seals under v%d before the rotation", v)
	}
	v2, err := a.Rotate(ctx, "t")
	if err != nil || v2 != 2 {
		t.Fatalf("rotate: v%d, %v", v2, err)
	}
	if v := version(seal(a)); v != 2 {
		t.Fatalf("the rotating instance seals under v%d, want v2 at once", v)
	}
	c.add(6 * time.Second)
	envB := seal(b)
	if v := version(envB); v != 2 {
		t.Fatalf("the other instance seals under v%d after its version check, want v2", v)
	}
	for _, kr := range []*keyring.Keyring{a, b} {
		tk, _ := kr.Tenant(ctx, "t")
		if pt, err := tk.Open(envB, ad); err != nil || string(pt) != "x" {
			t.Fatalf("open: %q %v", pt, err)
		}
		vs := tk.Versions()
		if len(vs) != 2 || !vs[0].Retired || vs[0].Current || !vs[1].Current {
			t.Fatalf("versions: %+v", vs)
		}
	}
}
