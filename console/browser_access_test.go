package console_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/golang-jwt/jwt/v5"

	"github.com/lethe-privacy/lethe/engine"
)

// setSession puts a session cookie into the tab's browser, as if the
// server had set it.
func setSession(base, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		yes := true
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "lethe_session", Value: value,
			URL: base + "/console/", Path: "/console/", HTTPOnly: &yes, SameSite: network.CookieSameSiteStrict})
		return chromedp.Void{}, err
	}
}

// sessionOf is the session cookie of an HTTP client signed in as user.
func sessionOf(t *testing.T, s *stack, user string) string {
	t.Helper()
	u, _ := url.Parse(s.srv.URL + "/console/")
	for _, ck := range s.signedIn(user).Jar.Cookies(u) {
		if ck.Name == "lethe_session" {
			return ck.Value
		}
	}
	t.Fatalf("no session cookie for %s", user)
	return ""
}

// token signs session claims as the console does, under key.
func token(t *testing.T, key []byte, user, tenant, role string, iat, exp time.Time) string {
	t.Helper()
	jti := make([]byte, 16)
	rand.Read(jti)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "jti": base64.RawURLEncoding.EncodeToString(jti), "iss": "lethe-console",
		"iat": iat.Unix(), "exp": exp.Unix(), "tnt": tenant, "role": role,
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBrowser_RefusedCookies sets forged, expired and another tenant's
// session cookies in chromium: each page answers with the sign-in page
// or a refusal, never with the tenant's data. A cookie made the same way
// but valid opens the page, so the refusals are the server's doing.
func TestBrowser_RefusedCookies(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-SECRET-7", "name": "Erika", "email": "erika@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.eng.ConsoleKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := s.srv.URL
	page := base + "/console/t/acme/records?collection=orders"
	tab := browser(t)

	// The control: a token signed with the console key, still valid.
	valid := tab()
	var h1, body string
	do(t, valid, chromedp.Navigate(base+"/console/login"), setSession(base, token(t, key, "mia", "acme", "manager", s.now, s.now.Add(time.Hour))),
		visit(page, `main h1`), text(&h1, `main h1`), into(&body, chromedp.Evaluate[string](`document.body.innerText`)))
	if h1 != "Records of acme" || !strings.Contains(body, docs[0].ID) {
		t.Fatalf("a valid crafted token does not open the page: %q\n%s", h1, body)
	}

	// mia's real cookie with its body changed to the admin: the signature
	// no longer matches.
	parts := strings.Split(sessionOf(t, s, "mia"), ".")
	var c map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["sub"], c["role"], c["tnt"] = "root", "admin", ""
	raw, _ = json.Marshal(c)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
	other := make([]byte, 32)
	rand.Read(other)

	for _, tc := range []struct{ name, cookie string }{
		{"tampered body", tampered},
		{"signed with another key", token(t, other, "root", "", "admin", s.now, s.now.Add(time.Hour))},
		{"expired an hour ago", token(t, key, "mia", "acme", "manager", s.now.Add(-9*time.Hour), s.now.Add(-time.Hour))},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tab()
			do(t, b, chromedp.Navigate(base+"/console/login"), setSession(base, tc.cookie),
				visit(page, `main h1`), text(&h1, `main h1`), into(&body, chromedp.Evaluate[string](`document.body.innerText`)))
			if h1 != "Sign in" || strings.Contains(body, docs[0].ID) {
				t.Fatalf("%s: the page shows %q\n%s", tc.name, h1, body)
			}
			do(t, b, visit(base+"/console/users", `main h1`), text(&h1, `main h1`))
			if h1 != "Sign in" {
				t.Fatalf("%s: the users page shows %q", tc.name, h1)
			}
		})
	}

	// bot's manager's genuine cookie: signed in, but not for acme.
	b := tab()
	do(t, b, chromedp.Navigate(base+"/console/login"), setSession(base, sessionOf(t, s, "ben")),
		visit(page, `main h1`), text(&h1, `main h1`), into(&body, chromedp.Evaluate[string](`document.body.innerText`)))
	if h1 != "Not possible" || strings.Contains(body, docs[0].ID) || strings.Contains(body, "AU-SECRET-7") {
		t.Fatalf("another tenant's cookie: %q\n%s", h1, body)
	}
	do(t, b, visit(base+"/console/t/acme/records/orders/"+docs[0].ID, `main h1`), text(&h1, `main h1`))
	if h1 != "Not possible" {
		t.Fatalf("another tenant's cookie on the record: %q", h1)
	}
}

// TestBrowser_German switches the console to German with the layout's
// link; the choice holds on the next pages.
func TestBrowser_German(t *testing.T) {
	s := newStack(t)
	tab := browser(t)()
	dir := shotDir(t)
	base := s.srv.URL
	var lang, h1, nav string
	do(t, tab, signIn(base, "mia", testPassword, `header nav`),
		into(new(bool), chromedp.Evaluate[bool](`window.__left = true`)),
		chromedp.Click(chromedp.CSS(`a.lang[hreflang=de]`)), loaded(),
		into(&lang, chromedp.Evaluate[string](`document.documentElement.lang`)), text(&h1, `main h1`), text(&nav, `header nav`))
	if lang != "de" || h1 != "Mandant acme" || !strings.Contains(nav, "Einstellungen") || !strings.Contains(nav, "Datenschutz") {
		t.Fatalf("after the switch: lang %q, heading %q, navigation %q", lang, h1, nav)
	}
	do(t, tab, visit(base+"/console/t/acme/settings", `main h1`), text(&h1, `main h1`),
		into(&lang, chromedp.Evaluate[string](`document.documentElement.lang`)), shot(dir, "settings-de"))
	if lang != "de" || h1 != "Einstellungen von acme" {
		t.Fatalf("next page: lang %q, heading %q", lang, h1)
	}
	// The longer German words still fit the desktop width: the header
	// wraps rather than pushing the sign-out button out of the window.
	var wide bool
	do(t, tab, into(&wide, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth ||
	  document.querySelector('header form button').getBoundingClientRect().right > window.innerWidth`)))
	if wide {
		t.Fatal("the German page does not fit the window")
	}
	// And back.
	do(t, tab, into(new(bool), chromedp.Evaluate[bool](`window.__left = true`)),
		chromedp.Click(chromedp.CSS(`a.lang[hreflang=en]`)), loaded(), text(&h1, `main h1`))
	if h1 != "Settings of acme" {
		t.Fatalf("back to English: %q", h1)
	}
}

// focused describes the focused element and whether its focus is visible
// (an outline of 2px or more).
const focused = `(() => { const e = document.activeElement; const cs = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  return JSON.stringify({tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '', href: e.getAttribute('href') || '',
    cls: e.className || '', text: (e.innerText || '').trim(), value: e.value === undefined ? '' : String(e.value),
    outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2, onscreen: r.width > 0 && r.left >= 0 && r.top >= 0}); })()`

type focus struct {
	Tag, Name, Href, Cls, Text, Value string
	Outline, Onscreen                 bool
}

// unlabelled lists the page's form fields without a label.
const unlabelled = `JSON.stringify([...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name))`

// keyboard drives a tab with key events only.
type keyboard struct {
	t   *testing.T
	tab context.Context
}

func (k keyboard) now() focus {
	k.t.Helper()
	var s string
	do(k.t, k.tab, into(&s, chromedp.Evaluate[string](focused)))
	var f focus
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		k.t.Fatal(err)
	}
	return f
}

// tabTo presses Tab until match holds for the focused element; each
// element on the way must show its focus.
func (k keyboard) tabTo(what string, match func(focus) bool) focus {
	k.t.Helper()
	for range 40 {
		do(k.t, k.tab, chromedp.KeyEvent(kb.Tab))
		f := k.now()
		if f.Tag != "body" && (!f.Outline || !f.Onscreen) {
			k.t.Fatalf("focus on %+v is not visible", f)
		}
		if match(f) {
			return f
		}
	}
	k.t.Fatalf("Tab never reached %s", what)
	return focus{}
}

// press sends keys and, when a page load follows, waits for it.
func (k keyboard) press(keys string, loads bool) {
	k.t.Helper()
	if loads {
		do(k.t, k.tab, into(new(bool), chromedp.Evaluate[bool](`window.__left = true`)), chromedp.KeyEvent(keys), loaded())
		return
	}
	do(k.t, k.tab, chromedp.KeyEvent(keys))
}

func (k keyboard) labelled() {
	k.t.Helper()
	var s, loc string
	do(k.t, k.tab, into(&s, chromedp.Evaluate[string](unlabelled)), into(&loc, chromedp.Location()))
	if s != "[]" {
		k.t.Fatalf("%s: fields without a label: %s", loc, s)
	}
}

// TestBrowser_KeyboardOnly signs in, follows the skip link, opens the
// settings and saves a changed period after its dry run, with Tab, arrow
// keys and Enter only, every focus visible and every field labelled.
func TestBrowser_KeyboardOnly(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	base := s.srv.URL
	k := keyboard{t, browser(t)()}
	do(t, k.tab, visit(base+"/console/login", `input[name=user]`))
	k.labelled()
	// The sign-in page puts the focus on the user field.
	if f := k.now(); f.Name != "user" {
		t.Fatalf("the sign-in page focuses %+v, want the user field", f)
	}
	k.press("ben", false)
	k.tabTo("the password field", func(f focus) bool { return f.Name == "password" })
	k.press(testPassword, false)
	k.press(kb.Enter, true)
	var h1 string
	do(t, k.tab, text(&h1, `main h1`))
	if h1 != "Tenant bot" {
		t.Fatalf("keyboard sign-in lands on %q", h1)
	}
	k.labelled()
	// The skip link is the first Tab stop of a page, visible once
	// focused; Enter moves the focus past the navigation to the content.
	if f := k.tabTo("the skip link", func(focus) bool { return true }); f.Cls != "skip" {
		t.Fatalf("first Tab stop is %+v, want the skip link", f)
	}
	k.press(kb.Enter, false)
	if f := k.now(); f.Tag != "main" {
		t.Fatalf("after the skip link the focus is on %+v, want main", f)
	}
	do(t, k.tab, into(new(bool), chromedp.Evaluate[bool](`document.activeElement.blur(), true`)))
	k.tabTo("the settings link", func(f focus) bool { return strings.HasSuffix(f.Href, "/settings") })
	k.press(kb.Enter, true)
	k.tabTo("the live chat settings", func(f focus) bool { return strings.HasSuffix(f.Href, "/settings/live_chat_messages") })
	k.press(kb.Enter, true)
	k.labelled()
	f := k.tabTo("the deletion period", func(f focus) bool { return f.Name == "period.delete" })
	for range 10 {
		if f.Value == "30d" {
			break
		}
		k.press(kb.ArrowDown, false)
		f = k.now()
	}
	if f.Value != "30d" {
		t.Fatalf("arrow keys did not reach 30d: %+v", f)
	}
	k.tabTo("the dry run button", func(f focus) bool { return f.Tag == "button" && strings.Contains(f.Text, "dry run") })
	k.press(kb.Enter, true)
	var changed string
	do(t, k.tab, text(&changed, `#changed`))
	if changed != "2" {
		t.Fatalf("keyboard dry run re-plans %q records, want 2", changed)
	}
	k.tabTo("the save button", func(f focus) bool { return f.Tag == "button" && f.Text == "Save this change" })
	k.press(kb.Enter, true)
	do(t, k.tab, chromedp.WaitVisible(chromedp.CSS(`.ok`)))
	if st, _ := s.eng.Settings(context.Background(), "bot", "live_chat_messages"); st.Periods["delete"].String() != "30d" {
		t.Fatalf("saved with the keyboard: %+v", st)
	}
}

// TestBrowser_Phone opens the main pages at an iPhone-sized viewport
// (390x844, mobile emulation): none scrolls sideways, and none has a
// field without a label.
func TestBrowser_Phone(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{{Origin: "amazon", CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann", "email": "erika@example.org", "plz": "10115"}}})
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := s.eng.SubmitRequest(ctx, "test", "acme", engine.RequestInput{Type: "export", Subject: map[string]string{"email": "erika@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	base := s.srv.URL
	dir := shotDir(t)
	tab := browser(t)()
	do(t, tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	do(t, tab, visit(base+"/console/login", `input[name=user]`))
	pages := map[string]string{"login": "/console/login"}
	do(t, tab, signIn(base, "mia", testPassword, `header nav`))
	for name, p := range map[string]string{
		"tenant": "/console/t/acme/", "settings": "/console/t/acme/settings/orders", "protection": "/console/t/acme/protection",
		"records": "/console/t/acme/records?collection=orders", "record": "/console/t/acme/records/orders/" + docs[0].ID,
		"subjects": "/console/t/acme/subjects", "requests": "/console/t/acme/requests", "request": "/console/t/acme/requests/" + job.ID,
		"logs": "/console/t/acme/logs", "dataprotection": "/console/t/acme/dataprotection",
	} {
		pages[name] = p
	}
	for name, p := range pages {
		var w struct{ Scroll, Inner int64 }
		var js string
		do(t, tab, visit(base+p, `main`), into(&js, chromedp.Evaluate[string](
			`JSON.stringify({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`)))
		if err := json.Unmarshal([]byte(js), &w); err != nil {
			t.Fatal(err)
		}
		if w.Inner != 390 || w.Scroll > w.Inner {
			t.Errorf("%s at 390px: scrollWidth %d, innerWidth %d", name, w.Scroll, w.Inner)
		}
		// Every field of every page has a label (read by screen readers,
		// and a larger target to tap).
		var missing string
		do(t, tab, into(&missing, chromedp.Evaluate[string](unlabelled)))
		if missing != "[]" {
			t.Errorf("%s: fields without a label: %s", name, missing)
		}
		if name == "records" || name == "tenant" {
			do(t, tab, phoneShot(dir, "phone-"+name))
		}
	}
}

// phoneShot captures the viewport as it is (shot resizes it to a desktop
// width).
func phoneShot(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		buf, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	}
}
