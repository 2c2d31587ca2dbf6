package console_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// text reads the text of the first element matching sel.
func text(p *string, sel string) chromedp.Action[chromedp.Void] {
	return into(p, chromedp.Text(chromedp.CSS(sel)))
}

// untilDone reloads a request page until its state is done.
func untilDone(t *testing.T, tab context.Context, url string) {
	t.Helper()
	var state string
	for range 100 {
		do(t, tab, visit(url, `#state`), text(&state, `#state`))
		if state == "done" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("request at %s is still %s", url, state)
}

func TestBrowser_ManagerFlows(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	ctx := context.Background()
	shipped := s.now.Add(-40 * 24 * time.Hour)
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{
		{Origin: "amazon", CreatedAt: shipped, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann", "email": "erika@example.org", "plz": "10115", "shipped_at": shipped.Format(time.RFC3339)}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-2", "name": "Max Muster", "email": "max@example.org", "plz": "20095"}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-3", "name": "Max Muster", "email": "max@example.org", "plz": "20095"}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-4", "name": "Lena Beispiel", "email": "lena@example.org", "plz": "80331"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tab := browser(t)
	dir := shotDir(t)
	base := s.srv.URL
	var got string

	// Sign-in: the session cookie's flags and its 8 hours, as the browser
	// keeps them.
	mia := tab()
	do(t, mia, signIn(base, "mia", testPassword, `header nav`))
	signedAt := time.Now()
	var cookies []*network.Cookie
	do(t, mia, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
		cookies = res.Cookies
		return chromedp.Void{}, err
	})
	var sess *network.Cookie
	for _, c := range cookies {
		if c.Name == "lethe_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict || sess.Path != "/console/" || sess.Secure {
		t.Fatalf("session cookie in the browser: %+v", sess)
	}
	if left := time.Unix(int64(sess.Expires), 0).Sub(signedAt); math.Abs(left.Hours()-8) > 0.05 {
		t.Fatalf("session cookie expires in %s, want 8h", left)
	}
	do(t, mia, shot(dir, "tenant"))

	// Settings of bot's collection: choose, dry run, save.
	ben := tab()
	do(t, ben, signIn(base, "ben", testPassword, `header nav`),
		visit(base+"/console/t/bot/settings/live_chat_messages", `select[name="period.delete"]`),
		chromedp.SetValue(chromedp.CSS(`select[name="period.delete"]`), "30d"),
		submit(`button[name=confirm][value="0"]`), chromedp.WaitVisible(chromedp.CSS(`#changed`)), text(&got, `#changed`), shot(dir, "settings"))
	if got != "2" {
		t.Fatalf("dry run re-plans %q records, want 2", got)
	}
	if st, _ := s.eng.Settings(ctx, "bot", "live_chat_messages"); len(st.Periods) != 0 {
		t.Fatalf("the dry run saved: %+v", st)
	}
	do(t, ben, submit(`button[name=confirm][value="1"]`), chromedp.WaitVisible(chromedp.CSS(`.ok`)))
	if st, _ := s.eng.Settings(ctx, "bot", "live_chat_messages"); st.Periods["delete"].String() != "30d" {
		t.Fatalf("saved settings: %+v", st)
	}
	// Marketplace protection: one click, then "active since" and the run.
	do(t, mia, visit(base+"/console/t/acme/protection", `#activate`), submit(`#activate`),
		chromedp.WaitVisible(chromedp.CSS(`#last-anonymized`)), text(&got, `#last-anonymized`), shot(dir, "protection"))
	if got != "1" {
		t.Fatalf("last run anonymized %q records, want 1", got)
	}
	do(t, mia, text(&got, `.state`))
	if !strings.Contains(got, "Active since") {
		t.Fatalf("protection state: %q", got)
	}

	// Records: the list keeps PII sealed; one click opens a record.
	do(t, mia, visit(base+"/console/t/acme/records?collection=orders", `main table`), into(&got, chromedp.Evaluate[string](`document.body.innerText`)), shot(dir, "records"))
	if strings.Contains(got, "Max Muster") || !strings.Contains(got, docs[1].ID) {
		t.Fatalf("records list: %s", got)
	}
	do(t, mia, visit(base+"/console/t/acme/records/orders/"+docs[1].ID, `#reveal`), submit(`#reveal`),
		chromedp.WaitVisible(chromedp.CSS(`.ok`)), into(&got, chromedp.Evaluate[string](`document.querySelector('main').innerText`)), shot(dir, "record"))
	if !strings.Contains(got, "Max Muster") {
		t.Fatalf("opened record: %s", got)
	}

	// Subject: look up, preview the erase, run it, see the receipt verified.
	lookup := func(email string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(visit(base+"/console/t/acme/subjects", `#find`),
			chromedp.SetValue(chromedp.CSS(`select[name=kind]`), "email"),
			chromedp.SendKeys(chromedp.CSS(`input[name=value]`), email),
			submit(`#find`), chromedp.WaitVisible(chromedp.CSS(`#preview-button`)))
	}
	do(t, mia, lookup("max@example.org"), chromedp.SetValue(chromedp.CSS(`select[name=type]`), "erase"),
		submit(`#preview-button`), chromedp.WaitVisible(chromedp.CSS(`#run`)), text(&got, `#preview`), shot(dir, "subject"))
	if !strings.Contains(got, "Dry run of erase") || !strings.Contains(got, "orders\tdelete\t2") {
		t.Fatalf("erase preview: %q", got)
	}
	if _, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[1].ID}); err != nil {
		t.Fatalf("the preview erased: %v", err)
	}
	var loc string
	do(t, mia, submit(`#run`), into(&loc, chromedp.Location()))
	untilDone(t, mia, loc)
	do(t, mia, chromedp.WaitVisible(chromedp.CSS(`#receipt-ok`)), shot(dir, "request"))
	for _, d := range docs[1:3] {
		if _, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: d.ID}); err == nil {
			t.Fatalf("order %s survived the erase", d.ID)
		}
	}

	// An export of Lena, downloaded with the browser's session.
	do(t, mia, lookup("lena@example.org"), chromedp.SetValue(chromedp.CSS(`select[name=type]`), "export"),
		submit(`#preview-button`), chromedp.WaitVisible(chromedp.CSS(`#run`)), submit(`#run`), into(&loc, chromedp.Location()))
	untilDone(t, mia, loc)
	var export string
	do(t, mia, chromedp.WaitVisible(chromedp.CSS(`#download`)),
		into(&export, chromedp.Evaluate[string](`fetch(document.querySelector('#download').href).then(r => r.ok ? r.text() : "HTTP " + r.status)`, chromedp.EvalAwaitPromise)))
	if !strings.Contains(export, docs[3].ID) || !strings.Contains(export, "Lena Beispiel") || strings.Contains(export, "Max Muster") {
		t.Fatalf("downloaded export: %.300s", export)
	}

	// Logs: the security log with the chain state.
	do(t, mia, visit(base+"/console/t/acme/logs?log=security", `#chain`), text(&got, `#chain`), shot(dir, "logs"))
	if !strings.Contains(got, "Audit chain intact") {
		t.Fatalf("chain state: %q", got)
	}
	do(t, mia, visit(base+"/console/t/acme/dataprotection?lang=de", `table.dp`), shot(dir, "dataprotection"))

	// ben's session does not open acme's pages.
	do(t, ben, visit(base+"/console/t/acme/records?collection=orders", `.error`), text(&got, `.error`))
	if strings.Contains(got, docs[0].ID) || !strings.Contains(got, "does not reach tenant") {
		t.Fatalf("bot's manager on acme's records: %q", got)
	}
}
