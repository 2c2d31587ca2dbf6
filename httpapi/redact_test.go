package httpapi_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// POST .../redact answers the redacted text and the findings (type, span
// in the text sent, score, recognizer), never a value.
func TestRedact_API(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "chatbot")
	const text = "Mein Name ist Erika Mustermann, IBAN DE89 3704 0044 0532 0130 00, Mail erika@example.com"
	tests := []struct {
		operator string
		want     string
	}{
		{"", "Mein Name ist <PERSON>, IBAN <IBAN>, Mail <EMAIL>"},
		{"tag", "Mein Name ist <PERSON>, IBAN <IBAN>, Mail <EMAIL>"},
		{"mask", "Mein Name ist ***** **********, IBAN **** **** **** **** **** **, Mail *****************"},
	}
	for _, tt := range tests {
		body := map[string]any{"text": text}
		if tt.operator != "" {
			body["operator"] = tt.operator
		}
		got := ts.must(200, ts.do(key, "POST", "/v1/tenants/shop/redact", body)).json(t)
		if got["text"] != tt.want {
			t.Errorf("operator %q: text %q, want %q", tt.operator, got["text"], tt.want)
		}
		fs, _ := got["findings"].([]any)
		var types []string
		for _, f := range fs {
			m := f.(map[string]any)
			start, end := int(m["start"].(float64)), int(m["end"].(float64))
			types = append(types, m["type"].(string)+"="+text[start:end])
			if len(m) != 5 || m["recognizer"] == "" {
				t.Errorf("finding %v: want exactly type, start, end, score, recognizer", m)
			}
		}
		if want := "PERSON=Erika Mustermann IBAN=DE89 3704 0044 0532 0130 00 EMAIL=erika@example.com"; strings.Join(types, " ") != want {
			t.Errorf("operator %q: findings %v, want spans %s", tt.operator, types, want)
		}
	}
	// Nothing found: the text as sent, and an empty list (not null).
	r := ts.must(200, ts.do(key, "POST", "/v1/tenants/shop/redact", map[string]any{"text": "Bestellung 4711 ist angekommen"}))
	if !strings.Contains(string(r.body), `"findings":[]`) || r.json(t)["text"] != "Bestellung 4711 ist angekommen" {
		t.Errorf("nothing found: %s", r.body)
	}
}

// Bad input is a problem+json naming what is wrong.
func TestRedact_APIRefuses(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "chatbot")
	tests := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"no text", map[string]any{"operator": "tag"}, 422, "text"},
		{"text not a string", map[string]any{"text": 5}, 422, "text"},
		{"unknown operator", map[string]any{"text": "x", "operator": "seal"}, 422, "operator"},
		{"hash is for anonymization only", map[string]any{"text": "x", "operator": "hash"}, 422, "operator"},
		{"unknown field", map[string]any{"text": "x", "lang": "de"}, 422, "lang"},
		{"empty body", "", 400, "body"},
	}
	for _, tt := range tests {
		r := ts.do(key, "POST", "/v1/tenants/shop/redact", tt.body)
		if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(r.body), tt.detail) {
			t.Errorf("%s: status %d %s: %s; want %d problem+json naming %s", tt.name, r.status, r.header.Get("Content-Type"), r.body, tt.status, tt.detail)
		}
	}
	// Another tenant's key does not reach this tenant.
	other := ts.tenant("other", "chatbot")
	if r := ts.do(other, "POST", "/v1/tenants/shop/redact", map[string]any{"text": "x"}); r.status != 403 && r.status != 404 {
		t.Errorf("other tenant's key: status %d, want 403 or 404", r.status)
	}
}

// A sweep reports the personal data left in what anonymization kept: the
// conversations pack keeps a message's intent for statistics, so an
// e-mail address a bot wrote into it is counted in the sweep's answer and
// in lethe_residual_pii_total, by type and without the value.
func TestSweep_ReportsResidualPII(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("bot", "conversations")
	path := "/v1/tenants/bot/collections/messages/records"
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "m1", "fields": map[string]any{
		"sender": "user", "text": "schreib an erika@example.com", "intent": "contact erika@example.com",
	}}))
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "m2", "fields": map[string]any{
		"sender": "user", "text": "danke", "intent": "thanks",
	}}))
	*ts.now = ts.now.Add(31 * 24 * time.Hour)
	r := ts.must(200, ts.do(ts.admin, "POST", "/v1/sweeps", nil))
	if strings.Contains(string(r.body), "erika") {
		t.Errorf("sweep answer shows the value: %s", r.body)
	}
	got := r.json(t)
	rp, _ := got["residual_pii"].([]any)
	want := map[string]any{"tenant": "bot", "collection": "messages", "type": "EMAIL", "count": float64(1)}
	if got["anonymized"] != float64(2) || len(rp) != 1 || !reflect.DeepEqual(rp[0], want) {
		t.Errorf("sweep: %s; want 2 anonymized and residual_pii [%v]", r.body, want)
	}
	if n := ts.metric(`lethe_residual_pii_total{type="EMAIL"}`); n != 1 {
		t.Errorf("lethe_residual_pii_total{type=EMAIL} = %v, want 1", n)
	}
}
