package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"gocloud.dev/secrets"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/keyring/kmstest"
)

func openCloud(t *testing.T, raw string) *keyring.CloudKMS {
	t.Helper()
	m, _, err := keyring.OpenMaster(context.Background(), raw, keyring.MasterOptions{})
	if err != nil {
		t.Fatalf("OpenMaster(%s): %v", raw, err)
	}
	c, ok := m.(*keyring.CloudKMS)
	if !ok {
		t.Fatalf("OpenMaster(%s) = %T, want *CloudKMS", raw, m)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCloudKMS_WrapUnwrapThroughEmulator(t *testing.T) {
	kms := kmstest.Start(t, 2)
	ctx := context.Background()
	// The emulator listens on every interface of its own namespace only:
	// its port is closed here.
	if c, err := net.Dial("tcp", "127.0.0.1:4599"); err == nil {
		c.Close()
		t.Fatal("the emulator's port answers outside its network namespace")
	}
	c := openCloud(t, kms.URL(0))
	if want := "awskms:" + kms.Keys[0]; c.ID() != want {
		t.Fatalf("ID = %q, want %q", c.ID(), want)
	}
	dek := bytes.Repeat([]byte{7}, keyring.TenantKeySize)
	w, id, err := c.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if id != c.ID() || bytes.Contains(w, dek) {
		t.Fatalf("Wrap: id %q, wrapped holds the key in the clear: %v", id, bytes.Contains(w, dek))
	}
	got, err := c.Unwrap(ctx, w, id)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	// A wrapped key altered by one byte is refused by the service.
	bad := bytes.Clone(w)
	bad[len(bad)/2] ^= 1
	if _, err := c.Unwrap(ctx, bad, id); !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("Unwrap(altered) = %v, want ErrWrongMasterKey", err)
	}
	// A kekID of another provider is not sent to the service at all.
	if _, err := c.Unwrap(ctx, w, "file:abc"); !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("Unwrap(file kek id) = %v, want ErrWrongMasterKey", err)
	}
	if !c.Knows(id) || c.Knows("awskms:"+kms.Keys[1]) {
		t.Fatalf("Knows: own %v, other key %v", c.Knows(id), c.Knows("awskms:"+kms.Keys[1]))
	}
	if err := c.Destroy(ctx, id); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("Destroy = %v, want ErrInvalid (Lethe deletes no cloud keys)", err)
	}
}

func TestCloudKMS_RefusesWrongOrUnreachableKey(t *testing.T) {
	kms := kmstest.Start(t, 1)
	ctx := context.Background()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + free.Addr().String()
	free.Close()
	for _, tc := range []struct {
		name, url string
		want      error
	}{
		{"unknown key id", "awskms://00000000-0000-4000-8000-000000000000?region=" + kmstest.Region + "&endpoint=" + kms.Endpoint, keyring.ErrWrongMasterKey},
		{"unreachable service", "awskms://" + kms.Keys[0] + "?region=" + kmstest.Region + "&endpoint=" + closed, lethe.ErrUnavailable},
		{"no key", "awskms://?region=" + kmstest.Region, lethe.ErrInvalid},
		{"unknown parameter", "awskms://" + kms.Keys[0] + "?colour=blue", lethe.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := keyring.OpenMaster(ctx, tc.url, keyring.MasterOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenMaster = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCloudKMS_OutageIsUnavailable(t *testing.T) {
	kms := kmstest.Start(t, 1)
	ctx := context.Background()
	c := openCloud(t, kms.URL(0))
	w, id, err := c.Wrap(ctx, make([]byte, keyring.TenantKeySize))
	if err != nil {
		t.Fatal(err)
	}
	kms.SetDown(true)
	if _, err := c.Unwrap(ctx, w, id); !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("Unwrap while down = %v, want ErrUnavailable", err)
	}
	kms.SetDown(false)
	if _, err := c.Unwrap(ctx, w, id); err != nil {
		t.Fatalf("Unwrap after the outage: %v", err)
	}
}

func TestCloudKMS_RotateToAnotherKey(t *testing.T) {
	kms := kmstest.Start(t, 2)
	ctx := context.Background()
	c := openCloud(t, kms.URL(0))
	dek := bytes.Repeat([]byte{9}, keyring.TenantKeySize)
	oldW, oldID, err := c.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rotate(ctx); !errors.Is(err, lethe.ErrInvalid) || !strings.Contains(err.Error(), "--to") {
		t.Fatalf("Rotate = %v, want ErrInvalid naming --to", err)
	}
	if _, err := c.RotateTo(ctx, "file:///tmp/x.key"); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("RotateTo(file) = %v, want ErrInvalid", err)
	}
	newID, err := c.RotateTo(ctx, kms.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	if newID != "awskms:"+kms.Keys[1] || c.ID() != newID {
		t.Fatalf("RotateTo = %q, ID %q", newID, c.ID())
	}
	if _, id, err := c.Wrap(ctx, dek); err != nil || id != newID {
		t.Fatalf("Wrap after RotateTo: %q, %v", id, err)
	}
	nw, nid, err := keyring.Rewrap(ctx, c, oldW, oldID)
	if err != nil || nid != newID {
		t.Fatalf("Rewrap = %q, %v", nid, err)
	}
	if got, err := c.Unwrap(ctx, nw, nid); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap(rewrapped) = %v", err)
	}
	if got, err := c.Unwrap(ctx, oldW, oldID); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap(old) = %v", err)
	}
	vs, _ := c.Versions(ctx)
	if len(vs) != 2 || vs[0] != oldID || vs[1] != newID {
		t.Fatalf("Versions = %v, want [%s %s]", vs, oldID, newID)
	}
	// A fresh open of the old key's URL does not know the new key.
	if c2 := openCloud(t, kms.URL(0)); c2.Knows(newID) {
		t.Fatal("a master opened on the old key knows the new one")
	}
}

func TestOpenMaster_CloudSchemeNotBuiltNamesTheTag(t *testing.T) {
	for _, scheme := range []string{"gcpkms", "azurekeyvault"} {
		if secrets.DefaultURLMux().ValidKeeperScheme(scheme) {
			continue // built with -tags cloudkms
		}
		_, _, err := keyring.OpenMaster(context.Background(), scheme+"://projects/p/locations/l/keyRings/r/cryptoKeys/k", keyring.MasterOptions{})
		if !errors.Is(err, lethe.ErrInvalid) || !strings.Contains(err.Error(), "-tags cloudkms") {
			t.Errorf("%s: %v, want ErrInvalid naming -tags cloudkms", scheme, err)
		}
	}
	_, _, err := keyring.OpenMaster(context.Background(), "hsm://x", keyring.MasterOptions{})
	if !errors.Is(err, lethe.ErrInvalid) || !strings.Contains(err.Error(), "awskms://") {
		t.Errorf("unknown scheme: %v", err)
	}
}
