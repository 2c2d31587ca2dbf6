package sdk_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/httpapi"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sdk"
	"github.com/lethe-privacy/lethe/sqlite"
)

// EnvRequireBrowser turns a missing chromium into a failure, as
// LETHE_REQUIRE_POSTGRES does for PostgreSQL: CI must not pass by
// skipping the browser tests.
const EnvRequireBrowser = "LETHE_REQUIRE_BROWSER"

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "BROWSER TESTS SKIPPED: no chromium on PATH (apt-get install chromium); set " + EnvRequireBrowser + "=1 to fail instead"
	if os.Getenv(EnvRequireBrowser) == "1" || os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// chatServer is the real Lethe API on loopback over a real SQLite file,
// with a clock the test can move forward (to expire tokens).
type chatServer struct {
	t      *testing.T
	url    string
	writer string
	reader string
	mu     sync.Mutex
	skew   time.Duration
}

const adminToken = "browser-test-admin-token-0123456789"

func newChatServer(t *testing.T) *chatServer {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	cs := &chatServer{t: t}
	clock := func() time.Time {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		return time.Now().Add(cs.skew)
	}
	kek, _, err := keyring.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.EnsureAdminToken(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Config{Engine: eng, AdminSuperuser: true})
	srv := httptest.NewServer(api) // 127.0.0.1
	t.Cleanup(func() {
		srv.Close()
		api.Close()
		eng.Close()
		st.Close()
	})
	cs.url = srv.URL
	cs.call(adminToken, "POST", "/v1/tenants", `{"id":"bot","packs":["chatbot","webchat"]}`, 201)
	cs.call(adminToken, "PATCH", "/v1/tenants/bot", `{"session_lifetime":"30m"}`, 200)
	cs.writer = cs.key("writer")
	cs.reader = cs.key("reader")
	return cs
}

func (cs *chatServer) key(role string) string {
	var k struct{ Key string }
	json.Unmarshal(cs.call(adminToken, "POST", "/v1/tenants/bot/keys", `{"roles":["`+role+`"]}`, 201), &k)
	return k.Key
}

func (cs *chatServer) call(token, method, path, body string, want int) []byte {
	cs.t.Helper()
	req, _ := http.NewRequest(method, cs.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cs.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		cs.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return b
}

func (cs *chatServer) mint() string {
	var m struct{ Token string }
	json.Unmarshal(cs.call(cs.writer, "POST", "/v1/tenants/bot/sessions", `{"variables":{"email":"zoe.canary@example.org"},"public":{"lang":"de"}}`, 201), &m)
	return m.Token
}

// openings returns the chat openings stored for the address, with their
// due times.
func (cs *chatServer) openings(ip string) []time.Time {
	cs.t.Helper()
	var found struct {
		Records []struct {
			Collection string
			Plan       struct {
				DueAt time.Time `json:"due_at"`
			}
		}
	}
	if err := json.Unmarshal(cs.call(cs.reader, "GET", "/v1/tenants/bot/subjects?ip_address="+ip, "", 200), &found); err != nil {
		cs.t.Fatal(err)
	}
	var out []time.Time
	for _, r := range found.Records {
		if r.Collection == "chat_openings" {
			out = append(out, r.Plan.DueAt)
		}
	}
	return out
}

func (cs *chatServer) demo(token string, extra ...string) string {
	v := url.Values{"tenant": {"bot"}, "token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return cs.url + "/demo/chat#" + v.Encode()
}

// browser starts one headless chromium for the test; tab gives each
// subtest a tab in a fresh browser context (its own localStorage and
// cookies, as a new visitor has).
func browser(t *testing.T) func(t *testing.T) context.Context {
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
		t.Cleanup(func() { cancelT(); cancel() })
		return ctx
	}
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](t, ctx, "!!("+cond+")") {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load opens the demo page and answers its consent banner.
func load(t *testing.T, ctx context.Context, pageURL, answer string) {
	t.Helper()
	// about:blank first: a second load that changes only the fragment
	// would not load the page again.
	run(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS("#"+answer)))
	waitFor(t, ctx, "window.demoChat")
	run(t, ctx, chromedp.Click(chromedp.CSS("#"+answer)))
	waitFor(t, ctx, "demoChat.status !== 'waiting'")
}

// stored is everything the page's origin holds: localStorage keys and
// cookies (as the browser reports them and as the page sees them).
func stored(t *testing.T, ctx context.Context) (keys []string, cookies int) {
	t.Helper()
	keys = eval[[]string](t, ctx, "Object.keys(localStorage)")
	c, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if doc := eval[string](t, ctx, "document.cookie"); doc != "" {
		cookies++
	}
	return keys, cookies + len(c.Cookies)
}

func TestBrowser(t *testing.T) {
	tab := browser(t)
	cs := newChatServer(t)

	t.Run("SmartModeWithConsentRefusedWritesNothing", func(t *testing.T) {
		ctx := tab(t)
		load(t, ctx, cs.demo(cs.mint()), "necessary-only")
		if eval[bool](t, ctx, "demoChat.persistent") || eval[string](t, ctx, "demoChat.status") != "ready" {
			t.Fatal("the chat should run in memory")
		}
		eval[any](t, ctx, "demoChat.add('hello in memory')")
		if got := eval[int](t, ctx, "demoChat.state.messages.length"); got != 1 {
			t.Fatalf("%d messages in memory, want 1", got)
		}
		keys, cookies := stored(t, ctx)
		if len(keys) != 0 || cookies != 0 {
			t.Fatalf("refused consent, yet localStorage %v and %d cookies", keys, cookies)
		}
		run(t, ctx, chromedp.Reload())
		waitFor(t, ctx, "window.demoChat")
		if keys, cookies := stored(t, ctx); len(keys) != 0 || cookies != 0 {
			t.Fatalf("after reload: localStorage %v and %d cookies", keys, cookies)
		}
	})

	t.Run("ConsentGivenStateWrittenAndSurvivesReload", func(t *testing.T) {
		ctx := tab(t)
		tok := cs.mint()
		load(t, ctx, cs.demo(tok), "accept-all")
		eval[any](t, ctx, "demoChat.add('hello survives')")
		saved := eval[string](t, ctx, "localStorage.getItem('lethe-chat')")
		var obj struct {
			Messages []struct{ Text string }
			Session  string
			Expires  int64
		}
		if err := json.Unmarshal([]byte(saved), &obj); err != nil || len(obj.Messages) != 1 || obj.Session != tok || obj.Expires == 0 {
			t.Fatalf("saved %s (%v)", saved, err)
		}
		if strings.Contains(saved, "zoe.canary") {
			t.Fatal("the saved state shows a sealed variable")
		}
		if keys, cookies := stored(t, ctx); len(keys) != 1 || cookies != 0 {
			t.Fatalf("localStorage %v, %d cookies; want one object and none", keys, cookies)
		}
		run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#accept-all")))
		waitFor(t, ctx, "window.demoChat")
		run(t, ctx, chromedp.Click(chromedp.CSS("#accept-all")))
		waitFor(t, ctx, "demoChat.status === 'ready'")
		if got := eval[string](t, ctx, "demoChat.state.messages.map(m => m.text).join()"); got != "hello survives" {
			t.Fatalf("after reload the messages are %q", got)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS("#bubble")))
		waitFor(t, ctx, "document.getElementById('messages').textContent.includes('hello survives')")
	})

	t.Run("ShortTTLStateGoneAfterIt", func(t *testing.T) {
		ctx := tab(t)
		load(t, ctx, cs.demo(cs.mint(), "ttl", "2"), "accept-all")
		eval[any](t, ctx, "demoChat.add('short-lived')")
		if eval[any](t, ctx, "localStorage.getItem('lethe-chat')") == nil {
			t.Fatal("nothing saved")
		}
		exp := eval[float64](t, ctx, "demoChat.expires - Date.now()")
		if exp <= 0 || exp > 2000 {
			t.Fatalf("expires in %.0f ms, want within 2 s", exp)
		}
		// The page removes the object itself when its time is up.
		waitFor(t, ctx, "localStorage.getItem('lethe-chat') === null")
		if got := eval[string](t, ctx, "demoChat.status"); got != "expired" {
			t.Errorf("status %q after the TTL", got)
		}
		run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#accept-all")))
		waitFor(t, ctx, "window.demoChat")
		run(t, ctx, chromedp.Click(chromedp.CSS("#accept-all")))
		waitFor(t, ctx, "demoChat.status === 'ready'")
		if got := eval[int](t, ctx, "demoChat.state.messages.length"); got != 0 {
			t.Fatalf("%d messages came back after the TTL", got)
		}
	})

	t.Run("ExpiredSavedStateRemovedOnLoad", func(t *testing.T) {
		ctx := tab(t)
		// A visit of long ago left its state; the page was closed before its
		// timer could remove it.
		run(t, ctx, chromedp.Navigate(cs.url+"/demo/chat"))
		eval[any](t, ctx, `localStorage.setItem('lethe-chat', JSON.stringify({messages: [{from: 'customer', text: 'old', at: 1}], session: 'x', expires: Date.now() - 1000}))`)
		load(t, ctx, cs.demo(cs.mint()), "accept-all")
		if got := eval[int](t, ctx, "demoChat.state.messages.length"); got != 0 {
			t.Fatalf("%d expired messages came back", got)
		}
		saved := eval[string](t, ctx, "localStorage.getItem('lethe-chat')")
		if strings.Contains(saved, "old") {
			t.Fatalf("the expired object is still there: %s", saved)
		}
	})

	t.Run("TTLZeroDisablesStorageAndRemovesSavedState", func(t *testing.T) {
		ctx := tab(t)
		tok := cs.mint()
		load(t, ctx, cs.demo(tok), "accept-all")
		eval[any](t, ctx, "demoChat.add('before')")
		if keys, _ := stored(t, ctx); len(keys) != 1 {
			t.Fatalf("setup: localStorage %v", keys)
		}
		load(t, ctx, cs.demo(tok, "ttl", "0"), "accept-all")
		if eval[bool](t, ctx, "demoChat.persistent") {
			t.Fatal("persistent with ttl 0")
		}
		eval[any](t, ctx, "demoChat.add('after')")
		if keys, cookies := stored(t, ctx); len(keys) != 0 || cookies != 0 {
			t.Fatalf("ttl 0: localStorage %v, %d cookies", keys, cookies)
		}
	})

	t.Run("IPStoredOnlyWhenTheChatIsOpened", func(t *testing.T) {
		ctx := tab(t)
		before := len(cs.openings("127.0.0.1"))
		load(t, ctx, cs.demo(cs.mint()), "accept-all")
		if got := len(cs.openings("127.0.0.1")); got != before {
			t.Fatalf("loading the widget stored an address (%d openings, %d before)", got, before)
		}
		opened := time.Now()
		run(t, ctx, chromedp.Click(chromedp.CSS("#bubble")))
		waitFor(t, ctx, "demoChat.opened")
		due := cs.openings("127.0.0.1")
		if len(due) != before+1 {
			t.Fatalf("%d openings after opening, want %d", len(due), before+1)
		}
		last := due[len(due)-1]
		if d := last.Sub(opened); d < 30*24*time.Hour-time.Minute || d > 30*24*time.Hour+time.Minute {
			t.Fatalf("the address is due %v after the opening, want 30 days", d)
		}
	})

	t.Run("TamperedOrExpiredTokenRefused", func(t *testing.T) {
		before := len(cs.openings("127.0.0.1"))
		good := cs.mint()
		parts := strings.Split(good, ".")
		sig := []byte(parts[2])
		sig[3] ^= 'A' ^ 'B' // another base64url letter
		if sig[3] == parts[2][3] {
			t.Fatal("signature unchanged")
		}
		tampered := parts[0] + "." + parts[1] + "." + string(sig)
		expired := cs.mint()
		for name, tok := range map[string]string{"tampered": tampered, "expired": expired} {
			t.Run(name, func(t *testing.T) {
				ctx := tab(t)
				if name == "expired" {
					cs.mu.Lock()
					cs.skew = 31 * time.Minute // past the tenant's 30m lifetime
					cs.mu.Unlock()
					defer func() { cs.mu.Lock(); cs.skew = 0; cs.mu.Unlock() }()
				}
				load(t, ctx, cs.demo(tok), "accept-all")
				run(t, ctx, chromedp.Click(chromedp.CSS("#bubble")))
				waitFor(t, ctx, "document.getElementById('status').textContent.includes('refused')")
				if eval[bool](t, ctx, "demoChat.opened") {
					t.Fatal("the chat counts as opened")
				}
			})
		}
		if got := len(cs.openings("127.0.0.1")); got != before {
			t.Fatalf("refused tokens stored an address: %d openings, %d before", got, before)
		}
	})

	t.Run("TCFAdapterEveryPurposeAcceptedPersists", func(t *testing.T) {
		for _, tt := range []struct {
			name      string
			consents  string
			persisted bool
		}{
			{"all purposes", "{1:true,2:true,3:true,4:true,5:true,6:true,7:true,8:true,9:true,10:true,11:true}", true},
			{"purpose 1 only", "{1:true}", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ctx := tab(t)
				// A stand-in CMP: it shows its banner first, then reports the
				// visitor's choice, as __tcfapi does.
				stub := `window.__tcfapi = (cmd, v, cb) => {
				  if (cmd !== 'addEventListener') return;
				  cb({eventStatus: 'cmpuishown', listenerId: 1, gdprApplies: true}, true);
				  setTimeout(() => cb({eventStatus: 'useractioncomplete', listenerId: 1, gdprApplies: true, purpose: {consents: ` + tt.consents + `}}, true), 100);
				};`
				if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: stub}); err != nil {
					t.Fatal(err)
				}
				run(t, ctx, chromedp.Navigate(cs.demo(cs.mint(), "adapter", "tcf")))
				waitFor(t, ctx, "window.demoChat && demoChat.status === 'ready'")
				eval[any](t, ctx, "demoChat.add('tcf')")
				keys, cookies := stored(t, ctx)
				if (len(keys) == 1) != tt.persisted || cookies != 0 {
					t.Fatalf("localStorage %v, %d cookies; want persisted %v", keys, cookies, tt.persisted)
				}
			})
		}
	})

	t.Run("CrossOriginOnlyFromTheTenantsChatOrigins", func(t *testing.T) {
		// The customer's site, on another origin, bundles the SDK itself and
		// calls Lethe across origins.
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/lethe-chat.js" {
				w.Header().Set("Content-Type", "text/javascript")
				w.Write(sdk.Script)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><script type="module">
import { createChat } from '/lethe-chat.js';
const p = new URLSearchParams(location.hash.slice(1));
window.chat = createChat({ server: p.get('server'), tenant: 'bot', token: p.get('token'), consent: { mode: 'none' } });
window.chat.start();
</script>`)
		}))
		defer site.Close()
		tryOpen := func(t *testing.T) string {
			ctx := tab(t)
			run(t, ctx, chromedp.Navigate(site.URL+"/#"+url.Values{"server": {cs.url}, "token": {cs.mint()}}.Encode()))
			waitFor(t, ctx, "window.chat && chat.status === 'ready'")
			return eval[string](t, ctx, "chat.open().then(() => 'opened', e => 'failed: ' + e.message)")
		}
		before := len(cs.openings("127.0.0.1"))
		if got := tryOpen(t); got == "opened" {
			t.Fatal("a page of an origin the tenant did not name opened the chat")
		}
		if got := len(cs.openings("127.0.0.1")); got != before {
			t.Fatalf("the refused origin stored an address: %d openings, %d before", got, before)
		}
		cs.call(adminToken, "PATCH", "/v1/tenants/bot", `{"chat_origins":["`+site.URL+`"]}`, 200)
		defer cs.call(adminToken, "PATCH", "/v1/tenants/bot", `{"chat_origins":[]}`, 200)
		if got := tryOpen(t); got != "opened" {
			t.Fatalf("the tenant's own chat origin: %s", got)
		}
		if got := len(cs.openings("127.0.0.1")); got != before+1 {
			t.Fatalf("%d openings after a cross-origin open, want %d", got, before+1)
		}
	})

	t.Run("BasicModeLoadsOnlyWithItsCategory", func(t *testing.T) {
		ctx := tab(t)
		load(t, ctx, cs.demo(cs.mint(), "mode", "basic", "category", "preferences"), "necessary-only")
		if got := eval[string](t, ctx, "demoChat.status"); got != "blocked" {
			t.Fatalf("status %q with the category refused, want blocked", got)
		}
		if keys, cookies := stored(t, ctx); len(keys) != 0 || cookies != 0 {
			t.Fatalf("blocked chat wrote localStorage %v, %d cookies", keys, cookies)
		}
		load(t, ctx, cs.demo(cs.mint(), "mode", "basic", "category", "necessary"), "necessary-only")
		if !eval[bool](t, ctx, "demoChat.persistent") {
			t.Fatal("basic mode with its category accepted should store")
		}
	})
}
