package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeExact decodes JSON keeping numbers as written (1001 stays 1001,
// not 1001.0), so that a comparison sees what the API really sent.
func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// Payloads as NLU engines, chatbots and ERPs send them are accepted through
// the API and come back as stored: numbers as numbers, lists as lists,
// timestamps in RFC 3339 UTC, dates as written.
func TestAPI_RealPayloadsRoundTrip(t *testing.T) {
	ts := newServer(t)
	keys := map[string]string{
		"conversations":   ts.tenant("bot", "conversations"),
		"erp-marketplace": ts.tenant("shop", "erp-marketplace"),
		"chatbot":         ts.tenant("chat", "chatbot"),
	}
	tenants := map[string]string{"conversations": "bot", "erp-marketplace": "shop", "chatbot": "chat"}
	tests := []struct {
		name, pack, collection string
		body                   string // the record as POSTed
		want                   string // its fields as GET gives them back
	}{
		{
			name: "NLU message with entity and token lists", pack: "conversations", collection: "messages",
			body: `{"id":"m1","fields":{"session_id":"s1","sender":"user","text":"Mail me at erika@example.com",
				"intent":"contact","entities":[{"entity":"email","value":"erika@example.com","start":11,"end":28,"confidence":0.98,"extractor":"RegexEntityExtractor"}],
				"tokens":[{"text":"Mail","start":0,"end":4},{"text":"me","start":5,"end":7}],
				"context":{"user":{"name":"Erika","cart":[{"sku":"A-1","qty":2}]},"turn":3,"flags":null},
				"new_context":{"user":{"name":"Erika","email":"erika@example.com"},"turn":4},
				"metadata":{"channel":"web","ab":[1,2]}}}`,
			want: `{"session_id":"s1","sender":"user","text":"Mail me at erika@example.com",
				"intent":"contact","entities":[{"entity":"email","value":"erika@example.com","start":11,"end":28,"confidence":0.98,"extractor":"RegexEntityExtractor"}],
				"tokens":[{"text":"Mail","start":0,"end":4},{"text":"me","start":5,"end":7}],
				"context":{"user":{"name":"Erika","cart":[{"sku":"A-1","qty":2}]},"turn":3,"flags":null},
				"new_context":{"user":{"name":"Erika","email":"erika@example.com"},"turn":4},
				"metadata":{"channel":"web","ab":[1,2]}}`,
		},
		{
			name: "tokens as plain strings, entities empty", pack: "conversations", collection: "messages",
			body: `{"id":"m2","fields":{"text":"hello there","tokens":["hello","there"],"entities":[]}}`,
			want: `{"text":"hello there","tokens":["hello","there"],"entities":[]}`,
		},
		{
			name: "context state of several shapes", pack: "conversations", collection: "contexts",
			body: `{"id":"c1","fields":{"session_id":"s1","state":[{"tree":"order","node":7},{"tree":"faq","node":1}]}}`,
			want: `{"session_id":"s1","state":[{"tree":"order","node":7},{"tree":"faq","node":1}]}`,
		},
		{
			name: "session with lower-case RFC 3339 and list metadata", pack: "conversations", collection: "sessions",
			body: `{"id":"s1","fields":{"conversation_id":"conv-1","channel":{"psid":"123"},"metadata":["vip"],"last_activity_at":"2026-11-23t11:59:00.5z"}}`,
			want: `{"conversation_id":"conv-1","channel":{"psid":"123"},"metadata":["vip"],"last_activity_at":"2026-11-23T11:59:00.5Z"}`,
		},
		{
			name: "ERP order with numeric ids, date-only datum, shipped as Unix seconds", pack: "erp-marketplace", collection: "orders",
			body: `{"id":"o1","origin":"amazon","fields":{"belegnr":200003,"kundennummer":1001,"datum":"2026-11-18","name":"Erika Mustermann",
				"shipped_at":1795168800,"positionen":[{"artikel":"A-1","menge":2,"preis":19.99}]}}`,
			want: `{"belegnr":200003,"kundennummer":1001,"datum":"2026-11-18","name":"Erika Mustermann",
				"shipped_at":"2026-11-20T10:00:00Z","positionen":[{"artikel":"A-1","menge":2,"preis":19.99}]}`,
		},
		{
			name: "ERP invoice with string ids and a space-separated timestamp", pack: "erp-marketplace", collection: "invoices",
			body: `{"id":"i1","fields":{"belegnr":"RE-2026-0001","kundennummer":"K-1001","datum":"2026-11-19","shipped_at":"2026-11-20 11:00:00+01:00"}}`,
			want: `{"belegnr":"RE-2026-0001","kundennummer":"K-1001","datum":"2026-11-19","shipped_at":"2026-11-20T10:00:00Z"}`,
		},
		{
			name: "delivery note with a fractional Unix time", pack: "erp-marketplace", collection: "delivery_notes",
			body: `{"id":"d1","fields":{"belegnr":300001,"kundennummer":"1001","shipped_at":1795168800.25}}`,
			want: `{"belegnr":300001,"kundennummer":"1001","shipped_at":"2026-11-20T10:00:00.25Z"}`,
		},
		{
			name: "chatbot variables as lists", pack: "chatbot", collection: "variables",
			body: `{"id":"v1","fields":{"email":"erika@example.com","values":[{"name":"size","value":42}],"documents":[{"file":"a.pdf","bytes":1024}],"expires_at":"2027-01-01T00:00:00Z"}}`,
			want: `{"email":"erika@example.com","values":[{"name":"size","value":42}],"documents":[{"file":"a.pdf","bytes":1024}],"expires_at":"2027-01-01T00:00:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, tenant := keys[tt.pack], tenants[tt.pack]
			path := "/v1/tenants/" + tenant + "/collections/" + tt.collection + "/records"
			created := ts.must(201, ts.do(key, "POST", path, tt.body))
			want := decodeExact(t, []byte(tt.want))
			fieldsOf := func(b []byte) any { return decodeExact(t, b).(map[string]any)["fields"] }
			if diff := cmp.Diff(want, fieldsOf(created.body)); diff != "" {
				t.Errorf("POST answer (-want +got):\n%s", diff)
			}
			id := decodeExact(t, created.body).(map[string]any)["id"].(string)
			got := ts.must(200, ts.do(key, "GET", path+"/"+id, nil))
			if diff := cmp.Diff(want, fieldsOf(got.body)); diff != "" {
				t.Errorf("GET (-want +got):\n%s", diff)
			}
		})
	}

	// The Amazon order's plan counts from its Unix-seconds shipment.
	r := ts.must(200, ts.do(keys["erp-marketplace"], "GET", "/v1/tenants/shop/collections/orders/records/o1", nil))
	if plan := r.json(t)["plan"].(map[string]any); plan["action"] != "anonymize" || plan["due_at"] != "2026-12-20T10:00:00Z" {
		t.Errorf("plan of the order shipped at Unix time: %s", r.body)
	}
	// A customer number is found by its text, whether it was sent as the
	// number 1001 or the string "1001"; "K-1001" is another customer.
	r = ts.must(200, ts.do(keys["erp-marketplace"], "GET", "/v1/tenants/shop/subjects?customer_id=1001", nil))
	var found struct {
		Count   int `json:"count"`
		Records []struct {
			ID string `json:"id"`
		} `json:"records"`
	}
	if err := json.Unmarshal(r.body, &found); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, rec := range found.Records {
		ids[rec.ID] = true
	}
	if found.Count != 2 || !ids["o1"] || !ids["d1"] {
		t.Errorf("subjects?customer_id=1001 found %v: %s", ids, r.body)
	}
	r = ts.must(200, ts.do(keys["erp-marketplace"], "GET", "/v1/tenants/shop/subjects?customer_id=K-1001", nil))
	if n := r.json(t)["count"]; n != float64(1) {
		t.Errorf("subjects?customer_id=K-1001: %s", r.body)
	}
}

// A bad payload is refused with 422 naming every bad field at once, in
// path order, and nothing is stored.
func TestAPI_BadPayloadsListEveryInvalidField(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace", "conversations", "chatbot")
	type fieldErr struct{ Field, Reason string }
	tests := []struct {
		name, method, path, body string
		want                     []string // the fields named, in order
	}{
		{
			name: "ERP order with several bad fields", method: "POST", path: "/v1/tenants/shop/collections/orders/records",
			body: `{"fields":{"kundennummer":9007199254740993,"belegnr":12.5,"datum":"18.11.2026","shipped_at":"2026-11-20 10:00",
				"positionen":[{"menge":1},{"menge":"zwei"},{"menge":1},{"menge":1},{"menge":1},{"menge":1},{"menge":1},{"menge":1},{"menge":1},{"menge":1},{"menge":"elf"}],
				"farbe":"rot"}}`,
			want: []string{"fields.belegnr", "fields.datum", "fields.farbe", "fields.kundennummer", "fields.positionen[1].menge", "fields.positionen[10].menge", "fields.shipped_at"},
		},
		{
			name: "id, origin and fields together", method: "POST", path: "/v1/tenants/shop/collections/orders/records",
			body: `{"id":"a b","origin":"Amazon EU","fields":{"datum":20261118}}`,
			want: []string{"fields.datum", "id", "origin"},
		},
		{
			name: "numbers beyond 2^53 deep in free-form fields", method: "POST", path: "/v1/tenants/shop/collections/messages/records",
			body: `{"fields":{"entities":[{"value":12345678901234567890}],"context":{"a":{"b":[1,-9007199254740993]}},"metadata":{"n":1e400}}}`,
			want: []string{"fields.context.a.b[1]", "fields.entities[0].value", "fields.metadata.n"},
		},
		{
			name: "every bad record of a batch", method: "POST", path: "/v1/tenants/shop/collections/invoices/records",
			body: `{"records":[{"fields":{"datum":"2026-02-30"}},{"fields":{"datum":"2026-02-28"}},{"fields":{"belegnr":true,"shipped_at":1795168800000}}]}`,
			want: []string{"records[0].fields.datum", "records[2].fields.belegnr", "records[2].fields.shipped_at"},
		},
		{
			name: "missing required and bad fields", method: "POST", path: "/v1/tenants/shop/collections/sessions/records",
			body: `{"fields":{"channel":"web","conversation_id":5.5}}`,
			want: []string{"fields.channel", "fields.conversation_id", "fields.last_activity_at"},
		},
		{
			name: "patch with several bad fields", method: "PATCH", path: "/v1/tenants/shop/collections/orders/records/x",
			body: `{"fields":{"datum":"morgen","kundennummer":{"nr":1}}}`,
			want: []string{"fields.datum", "fields.kundennummer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(key, tt.method, tt.path, tt.body)
			if r.status != 422 || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want 422 problem+json: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			var p struct {
				Detail string     `json:"detail"`
				Errors []fieldErr `json:"errors"`
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fe := range p.Errors {
				got = append(got, fe.Field)
				if fe.Reason == "" {
					t.Errorf("%s: no reason", fe.Field)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields named (-want +got):\n%s\n%s", diff, r.body)
			}
			if len(p.Errors) == 0 {
				t.Fatalf("no errors listed: %s", r.body)
			}
			if want := fmt.Sprintf("%s: %s (and %d more invalid fields, listed in errors)", p.Errors[0].Field, p.Errors[0].Reason, len(p.Errors)-1); p.Detail != want {
				t.Errorf("detail %q, want %q", p.Detail, want)
			}
		})
	}
	r := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/plan?until=100y", nil))
	if r.json(t)["total"] != float64(0) {
		t.Errorf("something was stored: %s", r.body)
	}
}

// A record's own created_at takes the same forms as a timestamp field: an
// import of history from a database dump or a Unix clock is accepted.
func TestAPI_CreatedAtInEveryTimestampForm(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	path := "/v1/tenants/shop/collections/orders/records"
	want := "2026-11-18T09:30:00Z"
	for i, v := range []any{"2026-11-18T09:30:00Z", "2026-11-18 10:30:00+01:00", "2026-11-18t09:30:00z", json.Number("1794994200")} {
		id := fmt.Sprintf("c%d", i)
		ts.must(201, ts.do(key, "POST", path, map[string]any{"id": id, "created_at": v, "fields": map[string]any{"plz": "10115"}}))
		got := ts.must(200, ts.do(key, "GET", path+"/"+id, nil)).json(t)
		if got["created_at"] != want {
			t.Errorf("created_at %v: stored as %v, want %s", v, got["created_at"], want)
		}
	}
	r := ts.must(422, ts.do(key, "POST", path, map[string]any{"id": "bad", "created_at": "2026-11-18 09:30:00", "fields": map[string]any{}}))
	if !strings.Contains(string(r.body), `"field":"created_at"`) {
		t.Errorf("a time without offset: %s", r.body)
	}
}
