package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe/keyring"
)

// A Chain wraps with the tenant's own key and unwraps each key through
// the one that wrapped it; a key of neither is refused.
func TestChain_UnwrapsThroughWhicheverKeyKnows(t *testing.T) {
	ctx := context.Background()
	open := func() keyring.Master {
		m, _, err := keyring.LoadOrCreateFileMaster(filepath.Join(t.TempDir(), "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	own, inst, other := open(), open(), open()
	c := keyring.Chain{Own: own, Instance: inst}
	dek := bytes.Repeat([]byte{3}, keyring.TenantKeySize)
	w, id, err := c.Wrap(ctx, dek)
	if err != nil || id != own.ID() || c.ID() != own.ID() {
		t.Fatalf("Wrap: %q %v (own %q)", id, err, own.ID())
	}
	iw, iid, _ := inst.Wrap(ctx, dek)
	ow, oid, _ := other.Wrap(ctx, dek)
	for _, tc := range []struct {
		name    string
		w       []byte
		id      string
		wantErr bool
	}{{"own", w, id, false}, {"instance", iw, iid, false}, {"neither", ow, oid, true}} {
		got, err := c.Unwrap(ctx, tc.w, tc.id)
		if tc.wantErr != (err != nil) || (err == nil && !bytes.Equal(got, dek)) {
			t.Errorf("%s: %x %v", tc.name, got, err)
		}
		if tc.wantErr && !errors.Is(err, keyring.ErrWrongMasterKey) {
			t.Errorf("%s: %v, want ErrWrongMasterKey", tc.name, err)
		}
	}
}
