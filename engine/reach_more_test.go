package engine_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func foundRefs(t *testing.T, docs []*engine.Doc) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		out = append(out, d.Collection+"/"+d.ID)
	}
	sort.Strings(out)
	return out
}

// An erasure fixes its reach when it starts: erasing the variables record
// that tied the e-mail address to the device id must not hide the device's
// records from the batches after it, not even across a restart.
func TestRequest_ReachSurvivesTheErasureOfTheTieAndARestart(t *testing.T) {
	e := reqFresh(t)
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := e.eng.PutSettings(e.ctx, "admin", "t1", "variables", &lethe.Settings{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	// Collections sort: variables before web_notifications, so the tie is
	// erased in an earlier batch than the record it leads to.
	e.put("t1", "variables", engine.NewRecord{ID: "v1", Fields: map[string]any{"email": "erika@example.com", "device_id": "D-1"}})
	e.put("t1", "web_notifications", engine.NewRecord{ID: "w1", Fields: map[string]any{"device_id": "D-1", "title": "Hallo Erika"}})
	e.put("t1", "web_notifications", engine.NewRecord{ID: "w2", Fields: map[string]any{"device_id": "D-1", "title": "Noch da?"}})

	job, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "erika@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	r := e.eng.NewRequestRunner()
	r.Batch = 1
	r.AfterBatch = func(j *lethe.Request) {
		if j.Processed == 2 { // variables and the first notification
			cancel()
		}
	}
	if _, err := r.RunPending(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	reqClose(e)
	reqOpen(t, e)
	e.advance(time.Minute)
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	done, err := e.eng.Request(e.ctx, "t1", job.ID)
	if err != nil || done.State != lethe.RequestDone {
		t.Fatalf("job: %+v, %v", done, err)
	}
	if got := engine.RequestCounts(done); got["variables"]["delete"] != 1 || got["web_notifications"]["delete"] != 2 {
		t.Errorf("counts %v, want the variables and both notifications deleted", got)
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"device_id": "D-1"}); len(docs) != 0 {
		t.Errorf("the device's records are left: %v", foundRefs(t, docs))
	}
}

// A record found by an identifier outside its collection's same_person
// (an order's invoice e-mail) is reached, but nothing is followed from it:
// the buyer's customer number on it does not lead to the buyer's address.
func TestFindSubject_FollowsOnlyTheRecordsOwnPerson(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	e.put("shop", "orders", engine.NewRecord{ID: "o-max", Fields: map[string]any{
		"kundennummer": "K-2", "email": "max@example.com", "rechnung_email": "buchhaltung@example.com"}})
	e.put("shop", "addresses", engine.NewRecord{ID: "a-max", Fields: map[string]any{"kundennummer": "K-2", "name": "Max Muster"}})
	e.put("shop", "delivery_notes", engine.NewRecord{ID: "dn-max", Fields: map[string]any{"auftrag": "o-max"}})

	tests := []struct {
		name string
		ids  map[string]string
		want []string
	}{
		{"the buyer reaches everything", map[string]string{"email": "max@example.com"}, []string{"addresses/a-max", "delivery_notes/dn-max", "orders/o-max"}},
		{"the invoice recipient reaches the order only", map[string]string{"email": "buchhaltung@example.com"}, []string{"orders/o-max"}},
		{"the customer number reaches the order and what hangs on it", map[string]string{"customer_id": "K-2"}, []string{"addresses/a-max", "delivery_notes/dn-max", "orders/o-max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := e.eng.FindSubject(e.ctx, "shop", tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if got := foundRefs(t, docs); !slices.Equal(got, tt.want) {
				t.Errorf("found %v, want %v", got, tt.want)
			}
		})
	}
}

// Plain identifiers are indexed too (the security log's actor, C4), and
// identifiers anonymization keeps stay findable (an Amazon order's customer
// number, X11).
func TestFindSubject_PlainAndKeptIdentifiers(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("bot", "chatbot")
	e.tenant("shop", "erp-marketplace")
	e.put("bot", "security_log", engine.NewRecord{ID: "sl1", Fields: map[string]any{"email": "Admin@Example.com", "ip_address": "2001:DB8::1", "event": "login"}})
	for _, q := range []map[string]string{{"email": "admin@example.com"}, {"ip_address": "2001:db8:0:0:0:0:0:1"}} {
		docs, err := e.eng.FindSubject(e.ctx, "bot", q)
		if err != nil {
			t.Fatal(err)
		}
		if got := foundRefs(t, docs); !slices.Equal(got, []string{"security_log/sl1"}) {
			t.Errorf("%v found %v", q, got)
		}
	}

	shipped := testStart.Add(time.Hour)
	e.put("shop", "orders", engine.NewRecord{ID: "A-1", Origin: "amazon", CreatedAt: testStart, Fields: map[string]any{
		"kundennummer": "K-1001", "name": "Erika Mustermann", "email": "erika@example.com", "shipped_at": shipped.Format(time.RFC3339)}})
	if res := e.sweepAt(shipped.Add(31 * 24 * time.Hour)); res.Anonymized != 1 {
		t.Fatalf("sweep anonymized %d, want 1", res.Anonymized)
	}
	docs, err := e.eng.FindSubject(e.ctx, "shop", map[string]string{"customer_id": "K-1001"})
	if err != nil {
		t.Fatal(err)
	}
	if got := foundRefs(t, docs); !slices.Equal(got, []string{"orders/A-1"}) || docs[0].State != lethe.StateAnonymized {
		t.Errorf("customer number after anonymization found %v", got)
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "shop", map[string]string{"email": "erika@example.com"}); len(docs) != 0 {
		t.Errorf("the erased e-mail address still finds %v", foundRefs(t, docs))
	}
}

// An anonymize request follows links like an erasure: the session's
// messages are anonymized with it, field by field (O5).
func TestRequest_AnonymizeFollowsLinks(t *testing.T) {
	e := reqFresh(t)
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "bot", []string{"conversations"}); err != nil {
		t.Fatal(err)
	}
	e.put("bot", "sessions", engine.NewRecord{ID: "s1", Fields: map[string]any{"conversation_id": "jan@example.be", "last_activity_at": "2026-05-04T09:00:00Z"}})
	e.put("bot", "messages", engine.NewRecord{ID: "m1", Fields: map[string]any{"session_id": "s1", "text": "mail me op jan@example.be", "intent": "contact"}})
	e.put("bot", "messages", engine.NewRecord{ID: "m2", Fields: map[string]any{"session_id": "s2", "text": "someone else"}})
	job := e.run("bot", engine.RequestInput{Type: lethe.RequestAnonymize, Subject: map[string]string{"conversation_id": "jan@example.be"}})
	if got := engine.RequestCounts(job); got["messages"]["anonymize"] != 1 || got["sessions"]["anonymize"] != 1 {
		t.Fatalf("counts %v", got)
	}
	m, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "bot", Collection: "messages", ID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != lethe.StateAnonymized || m.Fields["text"] != "This message has been deleted" || m.Fields["intent"] != "contact" || m.Fields["session_id"] != "s1" {
		t.Errorf("linked message after anonymization: %s %v", m.State, m.Fields)
	}
	other, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "bot", Collection: "messages", ID: "m2"})
	if err != nil || other.State != lethe.StateActive {
		t.Errorf("another session's message: %v %v", other, err)
	}
}

// An export gives the subject its own data only: from another customer's
// address that names her as an additional contact person, just her entry
// (GDPR Art. 15(4)).
func TestRequest_ExportLeavesOutOtherPeoplesData(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	exp := e.run("t1", engine.RequestInput{Type: lethe.RequestExport, Subject: map[string]string{"email": "erika@example.com"}})
	x, err := e.eng.OpenExport(e.ctx, "test", "t1", exp.ID, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	if !strings.Contains(body, `"a-max"`) || !strings.Contains(body, "erika@EXAMPLE.com") {
		t.Fatalf("the export lacks her entry in another customer's address: %.400s", body)
	}
	for _, other := range []string{"Max Muster", "max@example.com", "K-2", "lisa@example.com"} {
		if strings.Contains(body, other) {
			t.Errorf("the export holds another person's %q", other)
		}
	}
}

// A third party's record that names the subject only in a list and cannot
// be rewritten (here a sealed value that no longer opens) is left as it
// is: the subject's own records are erased all the same.
func TestRequest_UnreadableThirdPartyRecordDoesNotStopTheErasure(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	ref := lethe.RecordRef{Tenant: "t1", Collection: "addresses", ID: "a-max"}
	rec, err := e.store.Record(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for name, env := range rec.Sealed {
		env[len(env)-1] ^= 1 // the envelope no longer opens
		rec.Sealed[name] = env
		break
	}
	if err := e.store.UpdateRecord(e.ctx, rec); err != nil {
		t.Fatal(err)
	}
	job := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "erika@example.com"}})
	counts := engine.RequestCounts(job)
	if counts["addresses"]["unchanged"] != 1 || counts["orders"]["delete"] != 1 || counts["marketing_consents"]["delete"] != 1 {
		t.Fatalf("counts %v", counts)
	}
}
