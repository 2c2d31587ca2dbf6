package console_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvRequireBrowser turns a missing chromium into a failure (as CI=true
// does), so that a CI run cannot pass by skipping the browser tests.
const EnvRequireBrowser = "LETHE_REQUIRE_BROWSER"

// EnvScreenshots, set to 1, writes the screenshots to docs/console/ (the
// ones the documentation shows) instead of a temporary folder.
const EnvScreenshots = "LETHE_CONSOLE_SCREENSHOTS"

func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LETHE_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "BROWSER TESTS SKIPPED: no chromium found (set LETHE_CHROMIUM, or install Debian's chromium)"
	if os.Getenv(EnvRequireBrowser) == "1" || os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless chromium with a fresh profile; each call to
// the returned function opens a tab in a new browser context, so that each
// tab has its own cookies (one signed-in user per tab).
func browser(t *testing.T) func() context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 700))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	root, cancelRoot := chromedp.NewContext(actx)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return func() context.Context {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		return ctx
	}
}

// do runs steps in the tab with a time limit of its own; on failure it
// reports where the tab was and what it showed, which is what one needs
// to see why a selector never appeared.
func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		dctx, dcancel := context.WithTimeout(tab, 5*time.Second)
		defer dcancel()
		var loc, body string
		_ = chromedp.Do(dctx, into(&loc, chromedp.Location()), into(&body, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)))
		t.Fatalf("%v\n  at %s\n  page: %.600s", err, loc, body)
	}
}

func shotDir(t *testing.T) string {
	if os.Getenv(EnvScreenshots) == "1" {
		dir := filepath.Join("..", "docs", "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// shot saves the whole page as dir/name.png. It sizes the viewport to the
// page and captures that, since capturing beyond the viewport can stall
// headless chromium.
func shot(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		h, err := chromedp.Evaluate[int64](`Math.ceil(document.documentElement.scrollHeight)`)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		if _, err := chromedp.EmulateViewport(1100, max(h, 300))(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		buf, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		if _, err := chromedp.ResetViewport()(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	}
}

// into runs a, keeping its value in *p.
func into[T any](p *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tg)
		*p = v
		return chromedp.Void{}, err
	}
}

// visit opens url in the tab and waits until the new page has loaded and
// shows sel. It navigates from the page's script and watches for the old
// document to be gone, since chromedp.Navigate can miss the end of a load
// that follows a form's POST answered with a redirect.
func visit(url, sel string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(url)
	return chromedp.Steps(
		into(new(bool), chromedp.Evaluate[bool](`window.__left = true; location.assign(`+string(js)+`), true`)),
		loaded(),
		chromedp.WaitVisible(chromedp.CSS(sel)),
	)
}

// loaded waits until the document marked by visit or submit is replaced by
// a fully loaded one; evaluation errors while the page changes are expected.
func loaded() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			ok, err := chromedp.Evaluate[bool](`window.__left !== true && document.readyState === "complete"`)(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// submit clicks sel (a submit button) and waits for the answer page.
func submit(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		into(new(bool), chromedp.Evaluate[bool](`window.__left = true`)),
		chromedp.Click(chromedp.CSS(sel)),
		loaded(),
	)
}

// signIn submits the sign-in form and waits for wait, which must not be on
// the sign-in page before the submit (clicking does not wait for the load).
func signIn(base, user, password, wait string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		visit(base+"/console/login", `input[name=user]`),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		submit(`form.card button`),
		chromedp.WaitVisible(chromedp.CSS(wait)),
	)
}

func TestBrowser_SignInCSRFAndRoles(t *testing.T) {
	s := newStack(t)
	tab := browser(t)
	dir := shotDir(t)
	base := s.srv.URL
	var text string

	// Wrong password: the sign-in page again, with the message.
	ctx := tab()
	do(t, ctx, signIn(base, "root", "not the password at all", `.error`),
		into(&text, chromedp.Text(chromedp.CSS(`.error`))))
	if !strings.Contains(text, "Wrong user name or password") {
		t.Fatalf("wrong password shows %q", text)
	}
	do(t, ctx, visit(base+"/console/login", `input[name=user]`), shot(dir, "login"))

	// The admin signs in, sees the tenants and the users page.
	do(t, ctx, signIn(base, "root", testPassword, `header nav`), into(&text, chromedp.Text(chromedp.CSS(`main h1`))))
	if text != "Tenants" {
		t.Fatalf("admin lands on %q", text)
	}
	do(t, ctx, shot(dir, "dashboard"), visit(base+"/console/users", `form.card input[name=name]`), shot(dir, "users"))

	// A form whose CSRF token was removed is refused and adds nobody.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form.card input[name=name]`), "eve"),
		chromedp.SendKeys(chromedp.CSS(`form.card input[name=password]`), testPassword),
		into(new(bool), chromedp.Evaluate[bool](`document.querySelector('form.card input[name=csrf]').remove(), true`)),
		submit(`form.card button`),
		chromedp.WaitVisible(chromedp.CSS(`.error`)),
		into(&text, chromedp.Text(chromedp.CSS(`.error`)))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "did not come from the console") {
		t.Fatalf("form without CSRF token shows %q", text)
	}
	if _, err := s.eng.ConsoleUser(context.Background(), "eve"); err == nil {
		t.Fatal("a form without CSRF token added a user")
	}
	// The same form with its token works.
	if err := chromedp.Do(ctx,
		visit(base+"/console/users", `form.card input[name=name]`),
		chromedp.SendKeys(chromedp.CSS(`form.card input[name=name]`), "eve"),
		chromedp.SendKeys(chromedp.CSS(`form.card input[name=password]`), testPassword),
		chromedp.SetValue(chromedp.CSS(`select[name=role]`), "auditor"),
		chromedp.SendKeys(chromedp.CSS(`input[name=tenant]`), "acme"),
		submit(`form.card button`),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="eve"]`))); err != nil {
		t.Fatal(err)
	}
	if u, err := s.eng.ConsoleUser(context.Background(), "eve"); err != nil || u.Tenant != "acme" || u.Role != "auditor" {
		t.Fatalf("user added with the form: %+v, %v", u, err)
	}

	// An auditor of acme sees its tenant, not the users page.
	aud := tab()
	do(t, aud, signIn(base, "aud", testPassword, `header nav`), into(&text, chromedp.Text(chromedp.CSS(`main h1`))))
	if text != "Tenant acme" {
		t.Fatalf("auditor lands on %q", text)
	}
	do(t, aud, shot(dir, "tenant"),
		visit(base+"/console/users", `.error`), into(&text, chromedp.Text(chromedp.CSS(`.error`))))
	if !strings.Contains(text, "may not open this page") {
		t.Fatalf("auditor on the users page sees %q", text)
	}
	// Signing out ends the session: the dashboard sends back to sign-in.
	do(t, aud, visit(base+"/console/", `header form button`),
		submit(`header form button`), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
		visit(base+"/console/", `main h1`), into(&text, chromedp.Text(chromedp.CSS(`main h1`))))
	if text != "Sign in" {
		t.Fatalf("after sign-out the dashboard shows %q", text)
	}
}
