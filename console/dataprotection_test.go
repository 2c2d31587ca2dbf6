package console_test

import (
	"net/url"
	"strings"
	"testing"
)

func TestDataProtection_FollowsSettingsInBothLanguages(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	ben := s.signedIn("ben")
	const page = "/console/t/bot/dataprotection"
	_, body := s.get(ben, page)
	if !strings.Contains(body, "Chat messages for live chat") || !strings.Contains(body, "Deleted after 7 days (counted from created_at)") ||
		!strings.Contains(body, "<code>message</code>") {
		t.Fatalf("English table:\n%s", body)
	}
	_, body = s.get(ben, page+"?lang=de")
	if !strings.Contains(body, `lang="de"`) || !strings.Contains(body, "Gelöscht nach 7 Tagen (ab created_at)") || !strings.Contains(body, "Automatischer Verfall") {
		t.Fatalf("German table:\n%s", body)
	}
	// A chosen period is what the table says.
	_, form := s.get(ben, "/console/t/bot/settings/live_chat_messages")
	s.post(ben, "/console/t/bot/settings/live_chat_messages", url.Values{"csrf": {csrfOf(t, form)}, "period.delete": {"30d"}, "confirm": {"1"}})
	_, body = s.get(ben, page+"?lang=en")
	if !strings.Contains(body, "Deleted after 30 days (counted from created_at)") {
		t.Fatalf("table after choosing 30 days:\n%s", body)
	}
	if code, _ := s.get(s.signedIn("mia"), page); code != 403 {
		t.Fatalf("acme's manager opens bot's table: %d", code)
	}
}
