package engine_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/retention"
)

// seedFields reads seed 002's lists of anonymized fields per document type
// (testdata/seed002_anonymized_fields.json).
func seedFields(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("testdata/seed002_anonymized_fields.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for k, v := range raw {
		if k == "comment" {
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			t.Fatalf("seed fields %s: %v", k, err)
		}
		out[k] = list
	}
	return out
}

// TestSweep_AmazonOrderThirtyDaysAfterShipment checks X2: data from Amazon
// is anonymized 30 days after shipment and only then, and X7/X11: exactly
// the seed's fields are anonymized, names replaced by the placeholder.
func TestSweep_AmazonOrderThirtyDaysAfterShipment(t *testing.T) {
	day := 24 * time.Hour
	shipped := testStart.Add(2 * day)
	anonDue := shipped.Add(30 * day)

	t.Run("plan starts at shipment", func(t *testing.T) {
		e := newTestEnv(t, 0)
		e.tenant("shop", "erp-marketplace")
		base := map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann", "plz": "10115", "ort": "Berlin"}
		amazon := e.put("shop", "orders", engine.NewRecord{ID: "amz", Origin: "amazon", CreatedAt: testStart, Fields: base})
		// Not shipped yet: only the ten-year invoicing rule plans it.
		if amazon.Plan.Action == lethe.ActionAnonymize {
			t.Fatalf("unshipped Amazon order planned %+v, want no anonymization", amazon.Plan)
		}
		if want := testStart.AddDate(10, 0, 0); amazon.Plan.Action != lethe.ActionDelete || !amazon.Plan.DueAt.Equal(want) {
			t.Errorf("unshipped Amazon order plan = %+v, want delete at %s", amazon.Plan, want)
		}
		own := e.put("shop", "orders", engine.NewRecord{ID: "own", Origin: "shop", CreatedAt: testStart, Fields: base})

		e.clock.Set(shipped)
		patch := map[string]any{"shipped_at": shipped.Format(time.RFC3339)}
		d, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "amz"}, patch)
		if err != nil {
			t.Fatal(err)
		}
		if d.Plan.Action != lethe.ActionAnonymize || !d.Plan.DueAt.Equal(anonDue) {
			t.Fatalf("plan after shipment = %+v, want anonymize at %s", d.Plan, anonDue)
		}
		d, err = e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "own"}, patch)
		if err != nil {
			t.Fatal(err)
		}
		if d.Plan.Action != lethe.ActionDelete || !d.Plan.DueAt.Equal(own.Plan.DueAt) {
			t.Errorf("shop order plan after shipment = %+v, want its invoicing delete %+v", d.Plan, own.Plan)
		}

		e.sweepAt(anonDue.Add(-time.Second))
		if d := e.get("shop", "orders", "amz"); d.State != lethe.StateActive {
			t.Fatalf("one second before 30 days after shipment: state %s", d.State)
		}
		e.sweepAt(anonDue.Add(time.Second))
		if d := e.get("shop", "orders", "amz"); d.State != lethe.StateAnonymized || d.Fields["name"] != retention.DefaultPlaceholder {
			t.Fatalf("after 30 days: state %s, name %v", d.State, d.Fields["name"])
		}
		if d := e.get("shop", "orders", "own"); d.State != lethe.StateActive || d.Fields["name"] != "Erika Mustermann" {
			t.Errorf("shop order: state %s, name %v; the Amazon rule must not touch it", d.State, d.Fields["name"])
		}
	})

	seed := seedFields(t)
	docTypes := []struct{ coll, belegart string }{
		{"orders", "Auftrag"},
		{"delivery_notes", "Lieferschein"},
		{"invoices", "Rechnung"},
		{"addresses", "Adresse"},
	}
	placeholders := []struct{ name, set, want string }{
		{"tenant placeholder", "Kunde (anonymisiert)", "Kunde (anonymisiert)"},
		{"default placeholder", "", retention.DefaultPlaceholder},
	}
	for _, ph := range placeholders {
		for _, dt := range docTypes {
			t.Run(ph.name+"/"+dt.coll, func(t *testing.T) {
				e := newTestEnv(t, 0)
				e.tenant("shop", "erp-marketplace")
				c, err := e.eng.Collection(e.ctx, "shop", dt.coll)
				if err != nil {
					t.Fatal(err)
				}
				if ph.set != "" {
					e.putSettings("shop", dt.coll, &lethe.Settings{Placeholder: ph.set})
				}
				for _, f := range seed[dt.belegart] {
					if c.Field(f) == nil {
						t.Fatalf("seed field %s of %s is not a field of %s", f, dt.belegart, dt.coll)
					}
				}
				fields := sampleFields(c, testStart.Add(farFuture), 7)
				fields["shipped_at"] = shipped.Format(time.RFC3339)
				if c.Field("weitere_kontakte") != nil {
					fields["weitere_kontakte"] = []any{
						map[string]any{"bezeichnung": "Mobil", "kontakt": "+49 171 2345678"},
						map[string]any{"bezeichnung": "E-Mail privat", "kontakt": "erika@example.org"},
					}
				}
				put := e.put("shop", dt.coll, engine.NewRecord{ID: "doc-1", Origin: "amazon", CreatedAt: testStart, Fields: fields})
				before := e.get("shop", dt.coll, "doc-1")
				if diff := cmp.Diff(put.Fields, before.Fields); diff != "" {
					t.Fatalf("stored fields differ from the written ones (-put +get):\n%s", diff)
				}
				email := fields["email"].(string)
				if found := findIDs(t, e, "shop", map[string]string{"email": email}); !slices.Equal(found, []string{dt.coll + "/doc-1"}) {
					t.Fatalf("before anonymization, email lookup found %v", found)
				}

				want := map[string]any{}
				for k, v := range before.Fields {
					want[k] = v
				}
				for _, f := range seed[dt.belegart] {
					if slices.Contains(seed["mit Platzhalter"], f) {
						want[f] = ph.want
					} else {
						delete(want, f)
					}
				}
				for _, f := range seed["Rechnungsadresse"] {
					delete(want, f)
				}
				// "Abweichende Lieferadressen / zusätzliche Ansprechpartner
				// werden alle gelöscht"; other contacts keep their labels.
				delete(want, "lieferadressen")
				delete(want, "weitere_ansprechpartner")
				if _, ok := want["weitere_kontakte"]; ok {
					want["weitere_kontakte"] = []any{
						map[string]any{"bezeichnung": "Mobil", "kontakt": ""},
						map[string]any{"bezeichnung": "E-Mail privat", "kontakt": ""},
					}
				}
				// X7: the gift message goes, the lines stay.
				if lines, ok := want["positionen"].([]any); ok {
					kept := make([]any, len(lines))
					for i, l := range lines {
						m := map[string]any{}
						for k, v := range l.(map[string]any) {
							if k != "geschenknachricht" {
								m[k] = v
							}
						}
						kept[i] = m
					}
					want["positionen"] = kept
				}

				res := e.sweepAt(anonDue.Add(time.Second))
				if res.Anonymized != 1 {
					t.Fatalf("sweep anonymized %d records, want 1", res.Anonymized)
				}
				after := e.get("shop", dt.coll, "doc-1")
				if after.State != lethe.StateAnonymized {
					t.Fatalf("state %s, want anonymized", after.State)
				}
				if diff := cmp.Diff(want, after.Fields); diff != "" {
					t.Errorf("fields after anonymization (-want +got):\n%s", diff)
				}
				for _, keep := range []string{"plz", "ort", "lieferplz", "lieferort"} {
					if v, ok := before.Fields[keep]; ok && after.Fields[keep] != v {
						t.Errorf("%s = %v, want %v kept for statistics (X7)", keep, after.Fields[keep], v)
					}
				}
				if found := findIDs(t, e, "shop", map[string]string{"email": email}); len(found) != 0 {
					t.Errorf("after anonymization, email lookup still finds %v", found)
				}
				if found := findIDs(t, e, "shop", map[string]string{"phone": fields["telefon"].(string)}); len(found) != 0 {
					t.Errorf("after anonymization, phone lookup still finds %v", found)
				}
			})
		}
	}
}

// findIDs runs a subject lookup and returns "collection/id" of each hit,
// sorted.
func findIDs(t *testing.T, e *testEnv, tenant string, ids map[string]string) []string {
	t.Helper()
	docs, err := e.eng.FindSubject(e.ctx, tenant, ids)
	if err != nil {
		t.Fatalf("find subject %v: %v", ids, err)
	}
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.Collection+"/"+d.ID)
	}
	slices.Sort(out)
	return out
}

// TestSweep_ConversationMessageAnonymization checks O5 field by field on a
// message and a session of the conversations pack.
func TestSweep_ConversationMessageAnonymization(t *testing.T) {
	tests := []struct {
		name         string
		dropMetadata []string
		wantMetadata map[string]any
	}{
		{
			name:         "tenant drops metadata keys",
			dropMetadata: []string{"user_agent", "customer_ref"},
			wantMetadata: map[string]any{"locale": "nl-BE", "widget_version": "2.1"},
		},
		{
			name:         "no drop_metadata",
			wantMetadata: map[string]any{"locale": "nl-BE", "widget_version": "2.1", "user_agent": "Mozilla/5.0", "customer_ref": "K-123"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, 0)
			e.tenant("bot", "conversations")
			if tt.dropMetadata != nil {
				e.putSettings("bot", "messages", &lethe.Settings{DropMetadata: tt.dropMetadata})
			}
			const convID = "jan.peeters@example.be"
			e.put("bot", "sessions", engine.NewRecord{ID: "s1", CreatedAt: testStart, Fields: map[string]any{
				"conversation_id":  convID,
				"channel":          map[string]any{"type": "messenger", "user_id": "1234567890", "first_name": "Jan", "last_name": "Peeters"},
				"metadata":         map[string]any{"crm_id": "C-77"},
				"last_activity_at": testStart.Add(time.Hour).Format(time.RFC3339),
			}})
			e.put("bot", "messages", engine.NewRecord{ID: "m1", CreatedAt: testStart, Fields: map[string]any{
				"session_id":  "s1",
				"sender":      "user",
				"text":        "Mijn rijksregisternummer is 85.07.30-033.28, mail me op jan.peeters@example.be",
				"intent":      "update_profile",
				"entities":    map[string]any{"email": "jan.peeters@example.be", "rrn": "85.07.30-033.28"},
				"tokens":      map[string]any{"parts": []any{"jan.peeters@example.be"}},
				"context":     map[string]any{"name": "Jan"},
				"new_context": map[string]any{"name": "Jan", "email": "jan.peeters@example.be"},
				"metadata":    map[string]any{"locale": "nl-BE", "widget_version": "2.1", "user_agent": "Mozilla/5.0", "customer_ref": "K-123"},
			}})
			// The message belongs to its session (a link): the lookup finds both.
			if found := findIDs(t, e, "bot", map[string]string{"conversation_id": convID}); !slices.Equal(found, []string{"messages/m1", "sessions/s1"}) {
				t.Fatalf("conversation id lookup before anonymization found %v", found)
			}

			res := e.sweepAt(testStart.Add(30*24*time.Hour + time.Second))
			if res.Anonymized != 2 {
				t.Fatalf("sweep anonymized %d records, want 2", res.Anonymized)
			}

			m := e.get("bot", "messages", "m1")
			wantMsg := map[string]any{
				"session_id": "s1",
				"sender":     "user",
				"text":       "This message has been deleted",
				"intent":     "update_profile",
				"metadata":   tt.wantMetadata,
			}
			if m.State != lethe.StateAnonymized {
				t.Errorf("message state %s", m.State)
			}
			if diff := cmp.Diff(wantMsg, m.Fields); diff != "" {
				t.Errorf("message after anonymization (-want +got):\n%s", diff)
			}

			s := e.get("bot", "sessions", "s1")
			newID, _ := s.Fields["conversation_id"].(string)
			if _, err := uuid.Parse(newID); err != nil || newID == convID {
				t.Errorf("conversation_id = %q, want a fresh UUID", newID)
			}
			if strings.Contains(newID, "example") {
				t.Errorf("conversation_id %q still holds the old identifier", newID)
			}
			wantSession := map[string]any{
				"conversation_id":  newID,
				"last_activity_at": testStart.Add(time.Hour).Format(time.RFC3339),
			}
			if diff := cmp.Diff(wantSession, s.Fields); diff != "" {
				t.Errorf("session after anonymization (-want +got):\n%s", diff)
			}
			if found := findIDs(t, e, "bot", map[string]string{"conversation_id": convID}); len(found) != 0 {
				t.Errorf("conversation id lookup after anonymization found %v", found)
			}
		})
	}
}
