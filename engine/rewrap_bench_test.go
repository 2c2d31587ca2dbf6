package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// BenchmarkRewrap measures a tenant rewrap (rotate, then re-seal every
// record value on SQLite through RewrapTenant: scan, open, seal, guarded
// update, progress saved per batch) beside the raw re-encryption of the
// same values in memory (open under the old version, seal under the new,
// nothing stored), in one run. Both report values/s.
func BenchmarkRewrap(b *testing.B) {
	const records = 5000 // two PII values each
	ctx := context.Background()
	e := newRotationBench(b)
	for i := 0; i < records; i += 1000 {
		recs := make([]engine.NewRecord, 0, 1000)
		for j := i; j < i+1000; j++ {
			recs = append(recs, engine.NewRecord{ID: fmt.Sprintf("o-%06d", j), Fields: map[string]any{
				"name": fmt.Sprintf("Erika Mustermann %d", j), "email": fmt.Sprintf("erika%d@example.com", j)}})
		}
		if _, err := e.eng.Put(ctx, "shop", "orders", recs); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("rewrap", func(b *testing.B) {
		var values int64
		for b.Loop() {
			if _, err := e.eng.RotateTenantKey(ctx, "bench", "shop"); err != nil {
				b.Fatal(err)
			}
			job, err := e.eng.RewrapTenant(ctx, "shop", nil)
			if err != nil {
				b.Fatal(err)
			}
			values += job.Done
		}
		b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("raw", func(b *testing.B) {
		// The same envelopes, re-encrypted in memory only.
		rs := e.store.(lethe.KeyRotationStore)
		var envs []lethe.Reseal
		var after lethe.RecordRef
		for {
			recs, err := rs.SealedRecords(ctx, "shop", after, 2000)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				envs = append(envs, lethe.Reseal{Ref: r.Ref(), Old: r.Sealed})
			}
			after = recs[len(recs)-1].Ref()
		}
		kr := keyring.New(rs.(keyring.KeyStore), e.kek)
		keys, err := kr.Tenant(ctx, "shop")
		if err != nil {
			b.Fatal(err)
		}
		var values int64
		for b.Loop() {
			for _, r := range envs {
				for name, env := range r.Old {
					ad := keyring.AD{Tenant: r.Ref.Tenant, Collection: r.Ref.Collection, Record: r.Ref.ID, Field: name}
					pt, err := keys.Open(env, ad)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := keys.Seal(pt, ad); err != nil {
						b.Fatal(err)
					}
					values++
				}
			}
		}
		b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
	})
}

// rotationBench is an engine on a SQLite file with a versioned master key.
type rotationBench struct {
	store lethe.Store
	eng   *engine.Engine
	kek   *keyring.FileMaster
}

func newRotationBench(b *testing.B) *rotationBench {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "lethe.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	m, err := keyring.NewFileMaster(key)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: m})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(); st.Close() })
	if _, err := eng.CreateTenant(ctx, "admin", "shop", []string{"erp-marketplace"}); err != nil {
		b.Fatal(err)
	}
	return &rotationBench{store: st, eng: eng, kek: m}
}
