package engine_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/redact"
)

// newRedactEnv is a test engine over a real store whose tenants also use
// testdata/redact_policy.yaml.
func newRedactEnv(t *testing.T) *testEnv {
	t.Helper()
	data, err := os.ReadFile("testdata/redact_policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("redact_policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, engine.Config{KEK: kek, Extra: p})
}

// The sweep anonymizes a review: its texts stay with the personal data
// replaced (tags, keyed hashes), and what the residual scan finds in the
// text anonymization kept is counted in the result and the audit entry,
// never shown.
func TestSweep_RedactsAndCountsResidual(t *testing.T) {
	e := newRedactEnv(t)
	e.tenant("t1")
	e.put("t1", "reviews", engine.NewRecord{ID: "r1", CreatedAt: testStart, Fields: map[string]any{
		"session_id": "s-1",
		"message":    "Ich heiße Erika Mustermann, Mail erika@example.com, Tel. 0151 23456789",
		"hashed":     "erika@example.com schrieb nochmal: erika@example.com",
		"note":       "Rückruf an max@example.com",
	}})
	res := e.sweepAt(testStart.Add(31 * 24 * time.Hour))
	if res.Anonymized != 1 {
		t.Fatalf("anonymized %d, want 1", res.Anonymized)
	}
	d := e.get("t1", "reviews", "r1")
	if got, want := d.Fields["message"], "Ich heiße <PERSON>, Mail <EMAIL>, Tel. <PHONE>"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	h, _ := d.Fields["hashed"].(string)
	first, rest, _ := strings.Cut(h, " schrieb nochmal: ")
	if !strings.HasPrefix(first, "<EMAIL:") || first != rest || strings.Contains(h, "erika") {
		t.Errorf("hashed = %q, want the same keyed tag twice and no address", h)
	}
	want := []engine.ResidualCount{{Tenant: "t1", Collection: "reviews", Type: redact.Email, Count: 1}}
	if len(res.Residual) != 1 || res.Residual[0] != want[0] {
		t.Errorf("residual = %+v, want %+v", res.Residual, want)
	}
	entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "t1", Log: lethe.LogSecurity, Event: "sweep.batch"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("sweep.batch entries: %d, %v; want 1", len(entries), err)
	}
	var data struct {
		Residual map[string]map[string]int64 `json:"residual_pii"`
	}
	if err := json.Unmarshal(entries[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Residual["reviews"]["EMAIL"] != 1 || strings.Contains(string(entries[0].Data), "max@") {
		t.Errorf("audit entry %s: want residual_pii reviews.EMAIL = 1 and no value", entries[0].Data)
	}
}

// Hash tags are per tenant: the same address anonymized in two tenants
// gives unrelated tags, so redacted texts of two customers cannot be
// joined, and the same tag twice within one tenant.
func TestSweep_RedactHashIsPerTenant(t *testing.T) {
	e := newRedactEnv(t)
	tags := map[string]string{}
	for _, tn := range []string{"t1", "t2"} {
		e.tenant(tn)
		e.put(tn, "reviews", engine.NewRecord{ID: "r1", CreatedAt: testStart, Fields: map[string]any{"hashed": "erika@example.com"}})
		e.put(tn, "reviews", engine.NewRecord{ID: "r2", CreatedAt: testStart, Fields: map[string]any{"hashed": "erika@example.com"}})
	}
	if res := e.sweepAt(testStart.Add(31 * 24 * time.Hour)); res.Anonymized != 4 {
		t.Fatalf("anonymized %d, want 4", res.Anonymized)
	}
	for _, tn := range []string{"t1", "t2"} {
		one, _ := e.get(tn, "reviews", "r1").Fields["hashed"].(string)
		two, _ := e.get(tn, "reviews", "r2").Fields["hashed"].(string)
		if !strings.HasPrefix(one, "<EMAIL:") || one != two {
			t.Errorf("tenant %s: tags %q and %q, want one keyed tag", tn, one, two)
		}
		tags[tn] = one
	}
	if tags["t1"] == tags["t2"] {
		t.Errorf("both tenants hash to %s", tags["t1"])
	}
}

// Phone numbers without a country code are read in the tenant's region:
// "030 12345678" is a Berlin number in Germany, and no number in Belgium.
func TestRedact_TenantPhoneRegion(t *testing.T) {
	e := newRedactEnv(t)
	e.tenant("de")
	if _, err := e.eng.CreateTenantFrom(e.ctx, "admin", engine.TenantSpec{ID: "be", PhoneRegion: "BE"}); err != nil {
		t.Fatal(err)
	}
	const text = "ruf 030 12345678 an"
	for tn, want := range map[string]string{"de": "ruf <PHONE> an", "be": text} {
		got, _, err := e.eng.Redact(e.ctx, tn, text, "")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("tenant %s: %q, want %q", tn, got, want)
		}
	}
}

func TestRedact_Refuses(t *testing.T) {
	e := newRedactEnv(t)
	e.tenant("t1")
	for _, op := range []string{"seal", "hash"} {
		if _, _, err := e.eng.Redact(e.ctx, "t1", "x", op); !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("operator %s: %v, want ErrInvalid", op, err)
		}
	}
	if _, _, err := e.eng.Redact(e.ctx, "nobody", "x", ""); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want ErrNotFound", err)
	}
}
