package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/console"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// stack is a console on a real SQLite store, served on loopback.
type stack struct {
	t   *testing.T
	eng *engine.Engine
	srv *httptest.Server
	now time.Time
	dir string // the data folder: lethe.db and master.key
	kek keyring.Wrapper
	// stop closes the server, the runner, the engine and the store.
	stop func()
}

const testPassword = "correct horse battery"

func newStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	kek, _, err := keyring.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), dir: dir, kek: kek}
	s.start()
	t.Cleanup(func() { s.stop() })
	if _, err := s.eng.CreateTenant(ctx, "test", "acme", []string{"erp-marketplace"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []engine.ConsoleUser{
		{Name: "root", Role: engine.ConsoleAdmin},
		{Name: "mia", Role: engine.ConsoleManager, Tenant: "acme"},
		{Name: "aud", Role: engine.ConsoleAuditor, Tenant: "acme"},
	} {
		s.addUser(u)
	}
	return s
}

// start opens the store in the data folder, the engine, the console and
// its server, and runs the request runner as lethe serve does, so that
// subject requests started from the console finish.
func (s *stack) start() {
	t := s.t
	ctx := context.Background()
	clock := func() time.Time { return s.now }
	st, err := sqlite.Open(ctx, filepath.Join(s.dir, "lethe.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: s.kek, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := console.New(ctx, console.Config{Engine: eng, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s.eng, s.srv = eng, httptest.NewServer(h)
	rctx, stopRunner := context.WithCancel(ctx)
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		eng.NewRequestRunner().Run(rctx, 20*time.Millisecond)
	}()
	s.stop = func() {
		s.srv.Close()
		stopRunner()
		<-runnerDone
		eng.Close()
		st.Close()
	}
}

// restart stops everything and starts it again on the same data folder,
// as a restarted lethe serve would (the server's address changes).
func (s *stack) restart() {
	s.stop()
	s.start()
}

func (s *stack) addUser(u engine.ConsoleUser) {
	s.t.Helper()
	hash, err := console.HashPassword(testPassword)
	if err != nil {
		s.t.Fatal(err)
	}
	u.Hash = hash
	if err := s.eng.AddConsoleUser(context.Background(), "test", u); err != nil {
		s.t.Fatal(err)
	}
}

// client is a browser-like client: a cookie jar, redirects not followed.
func (s *stack) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (s *stack) get(c *http.Client, path string) (int, string) {
	s.t.Helper()
	resp, err := c.Get(s.srv.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *stack) post(c *http.Client, path string, form url.Values) *http.Response {
	s.t.Helper()
	resp, err := c.PostForm(s.srv.URL+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

// login signs in and returns the sign-in answer.
func (s *stack) login(c *http.Client, user, password string) *http.Response {
	s.t.Helper()
	_, page := s.get(c, "/console/login")
	return s.post(c, "/console/login", url.Values{"csrf": {csrfOf(s.t, page)}, "user": {user}, "password": {password}})
}

func (s *stack) signedIn(user string) *http.Client {
	s.t.Helper()
	c := s.client()
	if resp := s.login(c, user, testPassword); resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	return c
}

func TestLogin_SetsStrictCookie(t *testing.T) {
	s := newStack(t)
	c := s.client()
	resp := s.login(c, "mia", testPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "lethe_session" {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure || sess.MaxAge != 8*3600 || sess.Path != "/console/" {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure on loopback, 8 h, path /console/", sess)
	}
	code, body := s.get(c, "/console/")
	if code != 200 || !strings.Contains(body, "Tenant acme") {
		t.Fatalf("dashboard: %d\n%s", code, body)
	}
	// Auditing: the success is in the tenant's security log.
	es, _, err := s.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: "acme", Log: lethe.LogSecurity, Event: "auth.success", Actor: "console:mia"})
	if err != nil || len(es) != 1 {
		t.Fatalf("security log: %d entries, %v", len(es), err)
	}
}

func TestLogin_Refused(t *testing.T) {
	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "mia", "not the password at all"},
		{"no such user", "nobody", testPassword},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			c := s.client()
			resp := s.login(c, tc.user, tc.password)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if code, _ := s.get(c, "/console/"); code != http.StatusSeeOther {
				t.Fatalf("dashboard after failed login: %d, want redirect", code)
			}
			es, _, err := s.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: lethe.SystemTenant, Log: lethe.LogSecurity, Event: "auth.failure"})
			if err != nil || len(es) != 1 || es[0].Actor != "console:"+tc.user {
				t.Fatalf("security log: %+v, %v", es, err)
			}
		})
	}
}

func TestLogin_RateLimited(t *testing.T) {
	s := newStack(t)
	c := s.client()
	for i := 0; i < 5; i++ {
		if resp := s.login(c, "mia", "wrong password number"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// The right password is refused too while the account is locked,
	// from another client as well (per account) ...
	if resp := s.login(s.client(), "mia", testPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked account: %d, want 429", resp.StatusCode)
	}
	// ... and the address is locked for other accounts (per IP).
	if resp := s.login(s.client(), "aud", testPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked address: %d, want 429", resp.StatusCode)
	}
	es, _, _ := s.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: lethe.SystemTenant, Log: lethe.LogSecurity, Event: "auth.failure"})
	if len(es) != 7 {
		t.Fatalf("%d failures logged, want 7 (5 wrong, 2 refused)", len(es))
	}
	s.now = s.now.Add(16 * time.Minute)
	if resp := s.login(s.client(), "mia", testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

func TestCSRF_Refused(t *testing.T) {
	s := newStack(t)
	// Sign-in without the form's token.
	if resp := s.post(s.client(), "/console/login", url.Values{"user": {"root"}, "password": {testPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", resp.StatusCode)
	}
	c := s.signedIn("root")
	_, page := s.get(c, "/console/users")
	tok := csrfOf(t, page)
	form := url.Values{"name": {"eve"}, "password": {testPassword}, "role": {"admin"}}
	for _, bad := range []string{"", "x" + tok, strings.Repeat("A", len(tok))} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if bad != "" {
			f.Set("csrf", bad)
		}
		if resp := s.post(c, "/console/users", f); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("csrf %q: %d, want 403", bad, resp.StatusCode)
		}
	}
	if _, err := s.eng.ConsoleUser(context.Background(), "eve"); err == nil {
		t.Fatal("user added without a CSRF token")
	}
	form.Set("csrf", tok)
	if resp := s.post(c, "/console/users", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with csrf: %d", resp.StatusCode)
	}
	if _, err := s.eng.ConsoleUser(context.Background(), "eve"); err != nil {
		t.Fatal(err)
	}
	// A token of another session is refused.
	other := s.signedIn("root")
	_, page = s.get(other, "/console/users")
	if resp := s.post(c, "/console/users/remove", url.Values{"csrf": {csrfOf(t, page)}, "name": {"eve"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's token: %d", resp.StatusCode)
	}
}

func TestRoles_Enforced(t *testing.T) {
	s := newStack(t)
	for _, tc := range []struct {
		user string
		path string
		want int
	}{
		{"root", "/console/users", 200},
		{"mia", "/console/users", 403},
		{"aud", "/console/users", 403},
		{"root", "/console/", 200},
		{"mia", "/console/", 200},
		{"aud", "/console/", 200},
	} {
		c := s.signedIn(tc.user)
		if code, _ := s.get(c, tc.path); code != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.user, tc.path, code, tc.want)
		}
	}
	// POSTs too: a manager holding a valid CSRF token may not add users.
	c := s.signedIn("mia")
	_, page := s.get(c, "/console/")
	if resp := s.post(c, "/console/users", url.Values{"csrf": {csrfOf(t, page)}, "name": {"x1"}, "password": {testPassword}, "role": {"admin"}}); resp.StatusCode != 403 {
		t.Fatalf("manager adds a user: %d", resp.StatusCode)
	}
	if _, err := s.eng.ConsoleUser(context.Background(), "x1"); err == nil {
		t.Fatal("a manager added an admin")
	}
}

func TestLogout_RevokesToken(t *testing.T) {
	s := newStack(t)
	c := s.signedIn("mia")
	u, _ := url.Parse(s.srv.URL + "/console/")
	old := c.Jar.Cookies(u)
	_, page := s.get(c, "/console/")
	if resp := s.post(c, "/console/logout", url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// The token from before the sign-out, replayed, is refused.
	replay := s.client()
	replay.Jar.SetCookies(u, old)
	if code, _ := s.get(replay, "/console/"); code != http.StatusSeeOther {
		t.Fatalf("revoked token: %d, want redirect to sign-in", code)
	}
}

// TestLogout_SurvivesRestart: a token signed out before a restart stays
// refused after it, while a session not signed out carries on (the
// session key is in the database too), so the refusal is the deny list's.
func TestLogout_SurvivesRestart(t *testing.T) {
	s := newStack(t)
	signedOut, kept := s.signedIn("mia"), s.signedIn("aud")
	u, _ := url.Parse(s.srv.URL + "/console/")
	oldOut, oldKept := signedOut.Jar.Cookies(u), kept.Jar.Cookies(u)
	_, page := s.get(signedOut, "/console/")
	if resp := s.post(signedOut, "/console/logout", url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	s.restart()
	u, _ = url.Parse(s.srv.URL + "/console/")
	replay, other := s.client(), s.client()
	replay.Jar.SetCookies(u, oldOut)
	other.Jar.SetCookies(u, oldKept)
	if code, _ := s.get(replay, "/console/"); code != http.StatusSeeOther {
		t.Fatalf("signed-out token after a restart: %d, want redirect to sign-in", code)
	}
	if code, _ := s.get(other, "/console/"); code != http.StatusOK {
		t.Fatalf("a session not signed out, after a restart: %d", code)
	}
}

func TestSession_ExpiresAfter8h(t *testing.T) {
	s := newStack(t)
	c := s.signedIn("mia")
	s.now = s.now.Add(8*time.Hour - time.Minute)
	if code, _ := s.get(c, "/console/"); code != 200 {
		t.Fatalf("before expiry: %d", code)
	}
	s.now = s.now.Add(2 * time.Minute)
	if code, _ := s.get(c, "/console/"); code != http.StatusSeeOther {
		t.Fatalf("after expiry: %d", code)
	}
}

func TestRemovedUser_LosesSession(t *testing.T) {
	s := newStack(t)
	c := s.signedIn("mia")
	if err := s.eng.RemoveConsoleUser(context.Background(), "test", "mia"); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.get(c, "/console/"); code != http.StatusSeeOther {
		t.Fatalf("removed user: %d", code)
	}
}

func TestForgedToken_Refused(t *testing.T) {
	s := newStack(t)
	u, _ := url.Parse(s.srv.URL + "/console/")
	for _, tok := range []string{
		"garbage",
		// alg none, sub root
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJyb290IiwiaXNzIjoibGV0aGUtY29uc29sZSIsImV4cCI6NDEwMjQ0NDgwMCwianRpIjoieCJ9.",
	} {
		c := s.client()
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "lethe_session", Value: tok, Path: "/console/"}})
		if code, _ := s.get(c, "/console/users"); code != http.StatusSeeOther {
			t.Fatalf("forged %q: %d", tok, code)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newest is the tenant's newest security-log entry of event, nil if none.
func newest(t *testing.T, s *stack, tenant, event string) *engine.LogEntry {
	t.Helper()
	es, _, err := s.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: tenant, Log: lethe.LogSecurity, Event: event, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		return nil
	}
	return es[len(es)-1]
}
