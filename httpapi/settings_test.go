package httpapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// problemFields returns field -> reason of a 422 problem.
func problemFields(t *testing.T, r response) map[string]string {
	t.Helper()
	var p struct {
		Errors []struct{ Field, Reason string }
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem: %v: %s", err, r.body)
	}
	out := map[string]string{}
	for _, e := range p.Errors {
		out[e.Field] = e.Reason
	}
	return out
}

func TestAPI_PatchSettings_MergesAndNullResets(t *testing.T) {
	ts := newServer(t)
	ts.tenant("conv", "conversations")
	key := ts.key("conv", "admin") // settings are the admin's
	path := "/v1/tenants/conv/settings/messages"
	periods := func(r response) map[string]any { return r.json(t)["periods"].(map[string]any) }

	r := ts.must(200, ts.do(key, "PATCH", path, map[string]any{"periods": map[string]any{"anonymize": "7d"}}))
	if p := periods(r); p["anonymize"] != "7d" || p["delete"] != "1y" {
		t.Fatalf("after PATCH of anonymize: %s", r.body)
	}
	r = ts.must(200, ts.do(key, "PATCH", path, map[string]any{"drop_metadata": []string{"ip", "user_agent"}}))
	if p := periods(r); p["anonymize"] != "7d" {
		t.Fatalf("a PATCH of drop_metadata lost the period: %s", r.body)
	}
	r = ts.must(200, ts.do(key, "PATCH", path, map[string]any{"periods": map[string]any{"delete": "2y"}}))
	if p := periods(r); p["anonymize"] != "7d" || p["delete"] != "2y" {
		t.Fatalf("periods merge per rule: %s", r.body)
	}
	r = ts.must(200, ts.do(key, "PATCH", path, `{"periods": {"anonymize": null}}`))
	if p := periods(r); p["anonymize"] != "30d" || p["delete"] != "2y" {
		t.Fatalf("a null period goes back to the default 30d: %s", r.body)
	}
	if got := r.json(t)["drop_metadata"]; !reflect.DeepEqual(got, []any{"ip", "user_agent"}) {
		t.Fatalf("drop_metadata after unrelated PATCHes: %v", got)
	}
	r = ts.must(200, ts.do(key, "PATCH", path, `{"drop_metadata": null, "periods": null}`))
	if p := periods(r); p["anonymize"] != "30d" || p["delete"] != "1y" || len(r.json(t)["drop_metadata"].([]any)) != 0 {
		t.Fatalf("nulls reset everything: %s", r.body)
	}
	st, err := ts.eng.Settings(context.Background(), "conv", "messages")
	if err != nil || st.Periods != nil || st.DropMetadata != nil {
		t.Fatalf("stored settings after resets = %+v, %v; want none", st, err)
	}

	// PUT keeps replacing: what it does not name is gone.
	ts.must(200, ts.do(key, "PATCH", path, map[string]any{"drop_metadata": []string{"ip"}, "periods": map[string]any{"anonymize": "1d"}}))
	r = ts.must(200, ts.do(key, "PUT", path, map[string]any{"periods": map[string]any{"delete": "90d"}}))
	if p := periods(r); p["anonymize"] != "30d" || p["delete"] != "90d" || len(r.json(t)["drop_metadata"].([]any)) != 0 {
		t.Fatalf("PUT replaces: %s", r.body)
	}
}

func TestAPI_PatchSettings_RefusesWhatCannotTakeEffect(t *testing.T) {
	ts := newServer(t)
	ts.tenant("conv", "conversations")
	key := ts.key("conv", "admin")
	path := "/v1/tenants/conv/settings/messages"
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{"delete before anonymize", `{"periods": {"delete": "30d"}}`, map[string]string{
			"periods.delete": "anonymize period 30d must be shorter than delete period 30d: records would be deleted before they are anonymized"}},
		{"anonymize after delete", `{"periods": {"anonymize": "2y"}}`, map[string]string{
			"periods.anonymize": "anonymize period 2y must be shorter than delete period 1y: records would be deleted before they are anonymized"}},
		{"everything at once", `{"enabled": false, "placeholder": "Gast", "periods": {"purge": "1d", "anonymize": "45d"}}`, map[string]string{
			"enabled":           "collection messages is required and cannot be switched off",
			"placeholder":       "collection messages has no field anonymized by placeholder, so the text would never be used",
			"periods.purge":     `unknown rule "purge"; rules are anonymize, delete`,
			"periods.anonymize": "period 45d is not allowed; choose one of 1d, 7d, 30d, 90d, 180d, 1y, 2y, 3y",
		}},
		{"malformed parts", `{"enabled": "no", "periods": {"delete": 30, "anonymize": "7x"}, "drop_metadata": "ip"}`, map[string]string{
			"enabled":       "want true, false or null",
			"periods":       `want an object of rule names to periods such as "30d" (or null), or null`,
			"drop_metadata": "want a list of metadata keys, or null",
		}},
		{"a bad period", `{"periods": {"anonymize": "7x"}}`, map[string]string{
			"periods.anonymize": `invalid: duration "7x": unknown unit "x" (use s, m, h, d or y)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.must(422, ts.do(key, "PATCH", path, tt.body))
			if r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if got := problemFields(t, r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors = %v\nwant     %v", got, tt.want)
			}
		})
	}
	ts.must(400, ts.do(key, "PATCH", path, `{"periods": {`))
	ts.must(422, ts.do(key, "PATCH", path, `{"period": {}}`))
	ts.must(404, ts.do(key, "PATCH", "/v1/tenants/conv/settings/nope", `{}`))
	ts.tenant("other", "conversations")
	other := ts.key("other", "admin") // the admin of another tenant
	ts.must(403, ts.do(other, "PATCH", path, `{"periods": {"anonymize": "1d"}}`))
	// Nothing refused was stored.
	st, err := ts.eng.Settings(context.Background(), "conv", "messages")
	if err != nil || st.Periods != nil || st.Placeholder != "" {
		t.Fatalf("settings after refusals = %+v, %v; want none", st, err)
	}
	// drop_metadata where no field drops keys.
	r := ts.must(422, ts.do(key, "PATCH", "/v1/tenants/conv/settings/contexts", `{"drop_metadata": ["ip"]}`))
	if got := problemFields(t, r)["drop_metadata"]; got != "collection contexts has no field anonymized by drop_keys, so no metadata key would be dropped" {
		t.Errorf("drop_metadata on contexts: %q", got)
	}
}

// TestAPI_PatchSettings_Replans: a PATCH re-plans the collection's
// records like a PUT, so a shorter period applies to what is stored.
func TestAPI_PatchSettings_Replans(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("conv", "conversations")
	ts.must(201, ts.do(key, "POST", "/v1/tenants/conv/collections/messages/records",
		map[string]any{"id": "m1", "fields": map[string]any{"text": "hallo", "sender": "user"}}))
	ctx := context.Background()
	ref := lethe.RecordRef{Tenant: "conv", Collection: "messages", ID: "m1"}
	rec, err := ts.store.Record(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := ts.now.Add(30 * 24 * time.Hour); !rec.Plan.DueAt.Equal(want) {
		t.Fatalf("plan before: %v, want %v", rec.Plan.DueAt, want)
	}
	ts.must(200, ts.do(ts.admin, "PATCH", "/v1/tenants/conv/settings/messages", `{"periods": {"anonymize": "1d"}}`))
	deadline := time.Now().Add(10 * time.Second)
	for ts.eng.ReplanStatus("conv", "messages").Running || ts.eng.ReplanStatus("conv", "messages").Started.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("re-planning did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec, err = ts.store.Record(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := ts.now.Add(24 * time.Hour); rec.Plan.Action != lethe.ActionAnonymize || !rec.Plan.DueAt.Equal(want) {
		t.Fatalf("plan after PATCH: %v %v, want anonymize at %v", rec.Plan.Action, rec.Plan.DueAt, want)
	}
}
