package engine_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
)

// newRotationEnv is newTestEnv with a versioned master key (a key file
// held in memory), so that the master key can rotate too.
func newRotationEnv(t *testing.T, maxSeals uint64) (*testEnv, *keyring.FileMaster) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	m, err := keyring.NewFileMaster(key)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, engine.Config{KEK: m, MaxSealsPerKey: maxSeals}), m
}

func currentOnly(t *testing.T, st *engine.TenantKeyStatus) {
	t.Helper()
	for _, v := range st.Versions {
		if !v.Current && v.Values != 0 {
			t.Errorf("data key v%d (retired %v) still seals %d values", v.Version, v.Retired, v.Values)
		}
		if v.Current && v.Retired {
			t.Errorf("current version v%d is retired", v.Version)
		}
	}
}

// TestKeyRotation_TenantUnderLoadEveryValueEndsReadableOnTheNewVersion:
// writers create and patch records (PII fields, and plain fields only,
// which keep the old envelopes) while the rotation's rewrap runs. At the
// end every value is on the new version, and every acknowledged write
// reads back as written: the guarded reseal never overwrote a writer.
func TestKeyRotation_TenantUnderLoadEveryValueEndsReadableOnTheNewVersion(t *testing.T) {
	e, _ := newRotationEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	const seeded = 400
	for i := range seeded {
		e.put("shop", "orders", engine.NewRecord{ID: fmt.Sprintf("o-%04d", i), Fields: map[string]any{
			"name": fmt.Sprintf("Name %d", i), "email": fmt.Sprintf("p%d@example.com", i), "ort": "Berlin"}})
	}
	before, err := e.eng.TenantKeyStatus(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Versions) != 1 || before.Versions[0].Values != 2*seeded {
		t.Fatalf("before: %+v", before.Versions)
	}

	var (
		mu    sync.Mutex
		want  = map[string]string{} // id -> last acknowledged name
		stop  atomic.Bool
		wg    sync.WaitGroup
		wrote atomic.Int64
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				id := fmt.Sprintf("o-%04d", (n*7+w*131)%seeded)
				ref := lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: id}
				var err error
				switch n % 3 {
				case 0: // a PII field: a new envelope
					name := fmt.Sprintf("W%d-%d", w, n)
					mu.Lock() // one writer per id at a time: "last written" is well defined
					if _, err = e.eng.Patch(e.ctx, ref, map[string]any{"name": name}); err == nil {
						want[id] = name
					}
					mu.Unlock()
				case 1: // a plain field: the old envelopes are written back
					_, err = e.eng.Patch(e.ctx, ref, map[string]any{"ort": fmt.Sprintf("Ort %d", n)})
				case 2:
					_, err = e.eng.Put(e.ctx, "shop", "orders", []engine.NewRecord{{Fields: map[string]any{"name": "new", "email": fmt.Sprintf("n%d-%d@example.com", w, n)}}})
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				wrote.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	v, err := e.eng.RotateTenantKey(e.ctx, "admin", "shop")
	if err != nil {
		t.Fatal(err)
	}
	job, err := e.eng.RewrapTenant(e.ctx, "shop", nil)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if job.State != engine.RewrapDone || job.Target != fmt.Sprint(v) || job.Done < 2*seeded-int64(seeded) {
		t.Fatalf("job: %+v", job)
	}
	if wrote.Load() == 0 {
		t.Fatal("writers wrote nothing during the rewrap")
	}
	after, err := e.eng.TenantKeyStatus(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	currentOnly(t, after)
	if len(after.Versions) != 2 || !after.Versions[0].Retired || after.Versions[1].Version != v {
		t.Fatalf("versions after: %+v", after.Versions)
	}
	for i := range seeded {
		id := fmt.Sprintf("o-%04d", i)
		d := e.get("shop", "orders", id)
		if w, ok := want[id]; ok && d.Fields["name"] != w {
			t.Errorf("%s: name %v, the last acknowledged write was %q", id, d.Fields["name"], w)
		}
		if !ok(want, id) && d.Fields["name"] != fmt.Sprintf("Name %d", i) {
			t.Errorf("%s: name %v", id, d.Fields["name"])
		}
		if d.Fields["email"] != fmt.Sprintf("p%d@example.com", i) {
			t.Errorf("%s: email %v", id, d.Fields["email"])
		}
	}
	// The old version is retired: nothing new is sealed under it.
	e.put("shop", "orders", engine.NewRecord{ID: "late", Fields: map[string]any{"name": "late"}})
	late, _ := e.eng.TenantKeyStatus(e.ctx, "shop")
	currentOnly(t, late)
}

func ok(m map[string]string, k string) bool { _, has := m[k]; return has }

// TestKeyRotation_DestroyTenantKeyOnlyOnceNothingUsesIt: before the rewrap the old
// version seals values and may not go; after it, it goes unless audit
// entries still need it, and every record stays readable.
func TestKeyRotation_DestroyTenantKeyOnlyOnceNothingUsesIt(t *testing.T) {
	e, _ := newRotationEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	for i := range 20 {
		e.put("shop", "orders", engine.NewRecord{ID: fmt.Sprintf("o-%d", i), Fields: map[string]any{"name": "Erika"}})
	}
	v, err := e.eng.RotateTenantKey(e.ctx, "admin", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.DestroyTenantKey(e.ctx, "admin", "shop", v); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy of the current version: %v, want ErrConflict", err)
	}
	if err := e.eng.DestroyTenantKey(e.ctx, "admin", "shop", v-1); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy before the rewrap: %v, want ErrConflict", err)
	}
	if _, err := e.eng.RewrapTenant(e.ctx, "shop", nil); err != nil {
		t.Fatal(err)
	}
	st, err := e.eng.TenantKeyStatus(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	err = e.eng.DestroyTenantKey(e.ctx, "admin", "shop", v-1)
	if st.Versions[0].AuditEntries > 0 {
		if !errors.Is(err, lethe.ErrConflict) {
			t.Fatalf("destroy while %d audit entries use it: %v", st.Versions[0].AuditEntries, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	st, _ = e.eng.TenantKeyStatus(e.ctx, "shop")
	if len(st.Versions) != 1 || st.Versions[0].Version != v {
		t.Fatalf("versions after destroy: %+v", st.Versions)
	}
	for i := range 20 {
		if d := e.get("shop", "orders", fmt.Sprintf("o-%d", i)); d.Fields["name"] != "Erika" {
			t.Fatalf("o-%d after destroy: %v", i, d.Fields)
		}
	}
}

// TestKeyRotation_SealCapRotatesAndRewrapsByItself: with a cap of 60 seals per data
// key, the 61st seal rotates the key; the old version is retired and the
// background rewrap leaves every live value on the new version. (The
// rewrap's own seals count too: it converges while a tenant holds fewer
// live values than the cap, which the real cap, 2^30, makes certain.)
func TestKeyRotation_SealCapRotatesAndRewrapsByItself(t *testing.T) {
	e, _ := newRotationEnv(t, 60)
	e.tenant("shop", "erp-marketplace")
	for i := range 40 {
		e.put("shop", "orders", engine.NewRecord{ID: fmt.Sprintf("o-%03d", i), Fields: map[string]any{"email": fmt.Sprintf("e%d@example.com", i)}})
	}
	ref := lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "o-000"}
	for i := range 25 {
		if _, err := e.eng.Patch(e.ctx, ref, map[string]any{"email": fmt.Sprintf("x%d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := e.eng.TenantKeyStatus(e.ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		old := int64(0)
		for _, v := range st.Versions {
			if !v.Current {
				old += v.Values
			}
		}
		if old == 0 && st.Rewrap != nil && st.Rewrap.State == engine.RewrapDone {
			// Audit entries seal too, so the cap is reached more than once.
			cur := st.Versions[len(st.Versions)-1]
			if len(st.Versions) < 2 || !cur.Current || cur.Values != 40 || !st.Versions[0].Retired {
				t.Fatalf("65 record seals under a cap of 60: versions %+v", st.Versions)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("values on old versions after 30 s: %+v, rewrap %+v", st.Versions, st.Rewrap)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i < 40; i++ {
		if d := e.get("shop", "orders", fmt.Sprintf("o-%03d", i)); d.Fields["email"] != fmt.Sprintf("e%d@example.com", i) {
			t.Fatalf("o-%03d: %v", i, d.Fields)
		}
	}
	if d := e.get("shop", "orders", "o-000"); d.Fields["email"] != "x24@example.com" {
		t.Fatalf("o-000: %v", d.Fields)
	}
}

// TestKeyRotation_MasterRewrapsEveryWrappedKeyAndTheOldVersionGoes: after a
// master rotation and its rewrap no wrapped key names the old version; it
// is destroyed, and an engine started afresh with the key opens the data.
func TestKeyRotation_MasterRewrapsEveryWrappedKeyAndTheOldVersionGoes(t *testing.T) {
	e, m := newRotationEnv(t, 0)
	for _, id := range []string{"a", "b", "c"} {
		e.tenant(id, "erp-marketplace")
		e.put(id, "orders", engine.NewRecord{ID: "o", Fields: map[string]any{"name": "Name " + id}})
	}
	consoleKey, err := e.eng.ConsoleKey(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := m.ID()
	id, err := e.eng.RotateMasterKey(e.ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.eng.MasterKeyStatus(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The old version wraps every tenant's keys; the new one only what
	// was created since (the system tenant's keys, for the audit entry).
	if len(st.Versions) != 2 || st.Versions[0].ID != old || st.Versions[0].WrappedKeys < 10 || st.Versions[1].ID != id {
		t.Fatalf("status after rotate: %+v", st.Versions)
	}
	if err := e.eng.DestroyMasterKey(e.ctx, "admin", old); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy before the rewrap: %v, want ErrConflict", err)
	}
	job, err := e.eng.RewrapMasterKey(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != engine.RewrapDone || job.Done != job.Total || job.Total < 10 {
		t.Fatalf("job: %+v", job)
	}
	if err := e.eng.DestroyMasterKey(e.ctx, "admin", id); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy of the current version: %v", err)
	}
	if err := e.eng.DestroyMasterKey(e.ctx, "admin", old); err != nil {
		t.Fatal(err)
	}
	if m.Knows(old) {
		t.Fatal("old version still held")
	}
	fresh, err := engine.New(e.ctx, engine.Config{Store: e.store, KEK: m, Now: e.clock.Now})
	if err != nil {
		t.Fatalf("engine on the rewrapped data: %v", err)
	}
	defer fresh.Close()
	for _, tn := range []string{"a", "b", "c"} {
		d, err := fresh.Get(e.ctx, lethe.RecordRef{Tenant: tn, Collection: "orders", ID: "o"})
		if err != nil || d.Fields["name"] != "Name "+tn {
			t.Fatalf("%s after master rewrap: %v %v", tn, d, err)
		}
	}
	// The console's session key moved too: sessions signed before the
	// rotation stay good.
	if k, err := fresh.ConsoleKey(e.ctx); err != nil || !bytes.Equal(k, consoleKey) {
		t.Fatalf("console key after master rewrap: %v (same key: %v)", err, bytes.Equal(k, consoleKey))
	}
}

// TestKeyRotation_WritesAfterTheRotationCarryNoOldValues: a patch of a
// plain field writes the record's envelopes back; after a rotation it
// writes them under the new version, before any rewrap ran, so a write
// that lands after the rewrap's last pass cannot leave old values behind.
func TestKeyRotation_WritesAfterTheRotationCarryNoOldValues(t *testing.T) {
	e, _ := newRotationEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	e.put("shop", "orders", engine.NewRecord{ID: "o-1", Fields: map[string]any{"name": "Erika", "email": "erika@example.com", "ort": "Berlin"}})
	if _, err := e.eng.RotateTenantKey(e.ctx, "admin", "shop"); err != nil {
		t.Fatal(err)
	}
	st, err := e.eng.TenantKeyStatus(e.ctx, "shop")
	if err != nil || len(st.Versions) != 2 || st.Versions[0].Values != 2 {
		t.Fatalf("before the patch: %+v %v", st, err)
	}
	if _, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "o-1"}, map[string]any{"ort": "Köln"}); err != nil {
		t.Fatal(err)
	}
	st, err = e.eng.TenantKeyStatus(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	currentOnly(t, st)
	if d := e.get("shop", "orders", "o-1"); d.Fields["name"] != "Erika" || d.Fields["email"] != "erika@example.com" || d.Fields["ort"] != "Köln" {
		t.Fatalf("after the patch: %v", d.Fields)
	}
}

// TestKeyRotation_StatusNeverShowsDoneBesideOldCounts: the status is read
// while a rotation's rewrap runs. Its audit count is slow (many entries)
// and the rewrap of one record quick, so the rewrap often finishes during
// the status read. Whenever the status says done, no value is left on an
// older version: the job is read before the counts.
func TestKeyRotation_StatusNeverShowsDoneBesideOldCounts(t *testing.T) {
	e, _ := newRotationEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "o-1"}
	e.put("shop", "orders", engine.NewRecord{ID: ref.ID, Fields: map[string]any{"name": "Erika", "email": "erika@example.com"}})
	for i := range 3000 {
		if _, err := e.eng.Patch(e.ctx, ref, map[string]any{"ort": fmt.Sprintf("Ort %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	sawDone := 0
	for round := range 20 {
		if _, err := e.eng.RotateTenantKey(e.ctx, "admin", "shop"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := e.eng.RewrapTenant(e.ctx, "shop", nil); done <- err }()
		st, err := e.eng.TenantKeyStatus(e.ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st.Rewrap != nil && st.Rewrap.State == engine.RewrapDone {
			sawDone++
			currentOnly(t, st)
			if t.Failed() {
				t.Fatalf("round %d: done beside %+v", round, st.Versions)
			}
		}
	}
	t.Logf("%d of 20 status reads saw the rewrap done", sawDone)
}
