package keyring_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/keyring/kmstest"
)

// BenchmarkCloudKMSUnwrap measures one unwrap of a tenant key through
// the AWS KMS emulator (a full KMS Decrypt over loopback HTTP, through the
// namespace bridge), beside the key file's unwrap in the same run: what
// loading a tenant's keys costs per key, once per cache lifetime.
func BenchmarkCloudKMSUnwrap(b *testing.B) {
	ctx := context.Background()
	kms := kmstest.Start(b, 1)
	m, _, err := keyring.OpenMaster(ctx, kms.URL(0), keyring.MasterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	f, _, err := keyring.LoadOrCreateFileMaster(filepath.Join(b.TempDir(), "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	dek := make([]byte, keyring.TenantKeySize)
	for _, c := range []struct {
		name string
		m    keyring.Master
	}{{"file-baseline", f}, {"awskms", m}} {
		w, id, err := c.m.Wrap(ctx, dek)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.m.Unwrap(ctx, w, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
