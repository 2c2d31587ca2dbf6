package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/engine"
)

// chatTenant adds a chatbot tenant "bot" with a manager and an auditor
// and two live-chat messages written 20 days ago: due now under the
// default 7 days, not under 30.
func chatTenant(t *testing.T, s *stack) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.eng.CreateTenant(ctx, "test", "bot", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	s.addUser(engine.ConsoleUser{Name: "ben", Role: engine.ConsoleManager, Tenant: "bot"})
	s.addUser(engine.ConsoleUser{Name: "bea", Role: engine.ConsoleAuditor, Tenant: "bot"})
	old := s.now.Add(-20 * 24 * time.Hour)
	var in []engine.NewRecord
	for _, m := range []string{"hello", "my address is Hauptstr. 1"} {
		in = append(in, engine.NewRecord{CreatedAt: old, Fields: map[string]any{"session_id": "s-1", "sender": "customer", "message": m}})
	}
	if _, err := s.eng.Put(ctx, "bot", "live_chat_messages", in); err != nil {
		t.Fatal(err)
	}
}

func TestSettings_PreviewThenSave(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	ctx := context.Background()
	ben := s.signedIn("ben")
	const page = "/console/t/bot/settings/live_chat_messages"
	code, body := s.get(ben, page)
	if code != 200 {
		t.Fatalf("settings page: %d\n%s", code, body)
	}
	// The period is a choice among the allowed options, never a free field.
	for _, want := range []string{`<select name="period.delete"`, `<option value="7d"`, `<option value="30d"`, `<option value="60d"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("settings page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `<input name="period.`) || strings.Contains(body, "Save this change") {
		t.Fatalf("free period field, or saving offered before a dry run:\n%s", body)
	}
	tok := csrfOf(t, body)

	// Dry run: counts, nothing stored.
	resp, err := ben.PostForm(s.srv.URL+page, url.Values{"csrf": {tok}, "period.delete": {"30d"}, "confirm": {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(b, `re-plans <strong id="changed">2</strong> of 2 records`) || !strings.Contains(b, "Save this change") {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, b)
	}
	if !strings.Contains(b, `<option value="30d" selected>`) {
		t.Fatalf("preview page does not keep the submitted choice:\n%s", b)
	}
	if st, _ := s.eng.Settings(ctx, "bot", "live_chat_messages"); len(st.Periods) != 0 {
		t.Fatalf("a dry run stored settings: %+v", st)
	}

	// A period outside the options is refused, and not stored.
	resp, err = ben.PostForm(s.srv.URL+page, url.Values{"csrf": {tok}, "period.delete": {"45d"}, "confirm": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "not one of the choices") {
		t.Fatalf("45d: %d\n%s", resp.StatusCode, b)
	}

	// Save: stored, audited by the console user, re-planned.
	resp = s.post(ben, page, url.Values{"csrf": {tok}, "period.delete": {"30d"}, "confirm": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	st, err := s.eng.Settings(ctx, "bot", "live_chat_messages")
	if err != nil || st.Periods["delete"].String() != "30d" {
		t.Fatalf("stored settings %+v, %v", st, err)
	}
	if e := newest(t, s, "bot", "settings.update"); e == nil || e.Actor != "console:ben" {
		t.Fatalf("settings change not audited as the console user: %+v", e)
	}
	// Back to the default: an empty choice.
	resp = s.post(ben, page, url.Values{"csrf": {tok}, "period.delete": {""}, "confirm": {"1"}})
	if st, _ := s.eng.Settings(ctx, "bot", "live_chat_messages"); resp.StatusCode != http.StatusSeeOther || len(st.Periods) != 0 {
		t.Fatalf("reset to default: %d %+v", resp.StatusCode, st)
	}
}

func TestSettings_RolesAndTenants(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	const page = "/console/t/bot/settings/live_chat_messages"
	bea := s.signedIn("bea")
	code, body := s.get(bea, page)
	if code != 200 || !strings.Contains(body, "disabled") || strings.Contains(body, "Preview (dry run)") {
		t.Fatalf("auditor's settings page: %d\n%s", code, body)
	}
	if resp := s.post(bea, page, url.Values{"csrf": {csrfOf(t, body)}, "period.delete": {"30d"}, "confirm": {"1"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor saves settings: %d", resp.StatusCode)
	}
	// A manager of acme reaches neither the page nor the form of bot.
	mia := s.signedIn("mia")
	if code, _ := s.get(mia, page); code != http.StatusForbidden {
		t.Fatalf("acme's manager opens bot's settings: %d", code)
	}
	_, own := s.get(mia, "/console/t/acme/settings")
	if resp := s.post(mia, page, url.Values{"csrf": {csrfOf(t, own)}, "period.delete": {"30d"}, "confirm": {"1"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("acme's manager saves bot's settings: %d", resp.StatusCode)
	}
	if st, _ := s.eng.Settings(context.Background(), "bot", "live_chat_messages"); len(st.Periods) != 0 {
		t.Fatalf("settings changed: %+v", st)
	}
	if code, _ := s.get(s.signedIn("root"), page); code != 200 {
		t.Fatalf("admin opens bot's settings: %d", code)
	}
}
