package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
)

// TestI18n_EveryPageInBothLanguages renders every console page, by GET
// and through its forms, in English and German. A text with no German
// translation fails the page with a 500 (the template's t helper returns
// an error), so this test catches a missing key on any page it reaches.
func TestI18n_EveryPageInBothLanguages(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{{Origin: "amazon", CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika", "email": "erika@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := s.eng.SubmitRequest(ctx, "test", "acme", engine.RequestInput{Type: "export", Subject: map[string]string{"email": "erika@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := "/console/t/acme/records/orders/" + docs[0].ID
	pages := []string{"/console/", "/console/t/acme/", "/console/t/acme/settings", "/console/t/acme/settings/orders",
		"/console/t/acme/protection", "/console/t/acme/records?collection=orders", rec, "/console/t/acme/subjects",
		"/console/t/acme/requests", "/console/t/acme/requests/" + job.ID, "/console/t/acme/logs", "/console/t/acme/dataprotection", "/console/users"}
	// Words of the navigation and the page heads, in each language.
	want := map[string][]string{
		"en": {`<html lang="en">`, ">Settings</a>", ">Sign out</button>", ">Skip to content</a>", `hreflang="de"`},
		"de": {`<html lang="de">`, ">Einstellungen</a>", ">Abmelden</button>", ">Zum Inhalt springen</a>", `hreflang="en"`},
	}
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			root := s.signedIn("root")
			mia := s.signedIn("mia")
			// The switch is remembered in a cookie: only the first page
			// carries ?lang=.
			if code, body := s.get(root, "/console/?lang="+lang); code != 200 || !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Fatalf("switch to %s: %d\n%s", lang, code, body)
			}
			s.get(mia, "/console/?lang="+lang)
			for _, p := range pages {
				c := mia
				if p == "/console/users" || p == "/console/" {
					c = root
				}
				code, body := s.get(c, p)
				if code != 200 {
					t.Fatalf("GET %s in %s: %d\n%s", p, lang, code, body)
				}
				for _, w := range want[lang] {
					if c == root && w == want[lang][1] {
						continue // the admin's own pages have no tenant navigation
					}
					if !strings.Contains(body, w) {
						t.Errorf("GET %s in %s lacks %s", p, lang, w)
					}
				}
			}
			_, body := s.get(mia, "/console/t/acme/subjects")
			tok := csrfOf(t, body)
			for _, f := range []struct {
				path string
				form url.Values
			}{
				{"/console/t/acme/settings/orders", url.Values{"confirm": {"0"}}},
				{rec, nil},
				{"/console/t/acme/subjects", url.Values{"op": {"find"}, "kind": {"email"}, "value": {"erika@example.org"}}},
				{"/console/t/acme/subjects", url.Values{"op": {"preview"}, "kind": {"email"}, "value": {"erika@example.org"}, "type": {"erase"}}},
			} {
				if f.form == nil {
					f.form = url.Values{}
				}
				f.form.Set("csrf", tok)
				resp, err := mia.PostForm(s.srv.URL+f.path, f.form)
				if err != nil {
					t.Fatal(err)
				}
				if b := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(b, want[lang][0]) {
					t.Fatalf("POST %s in %s: %d\n%s", f.path, lang, resp.StatusCode, b)
				}
			}
			// The messages made in Go code follow the language too.
			aud := s.signedIn("aud")
			s.get(aud, "/console/?lang="+lang)
			code, body := s.get(aud, "/console/users")
			msg := map[string]string{"en": "may not open this page", "de": "darf diese Seite nicht öffnen"}[lang]
			if code != http.StatusForbidden || !strings.Contains(body, msg) {
				t.Fatalf("refusal in %s: %d\n%s", lang, code, body)
			}
		})
	}
}

// TestI18n_AcceptLanguageAndLoginPage: without a choice, the browser's
// header decides, on the sign-in page too.
func TestI18n_AcceptLanguageAndLoginPage(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct{ header, want, text string }{
		{"de-DE,de;q=0.9,en;q=0.5", "de", "Anmelden"},
		{"en-GB,en;q=0.9", "en", "Sign in"},
		{"fr-FR", "en", "Sign in"},
	} {
		req, _ := http.NewRequest("GET", s.srv.URL+"/console/login", nil)
		req.Header.Set("Accept-Language", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if !strings.Contains(body, `<html lang="`+c.want+`">`) || !strings.Contains(body, "<h1>"+c.text+"</h1>") {
			t.Errorf("Accept-Language %q: not %s\n%s", c.header, c.want, body)
		}
	}
	// A chosen language beats the header.
	c := s.client()
	s.get(c, "/console/login?lang=de")
	req, _ := http.NewRequest("GET", s.srv.URL+"/console/login", nil)
	req.Header.Set("Accept-Language", "en")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); !strings.Contains(body, "<h1>Anmelden</h1>") {
		t.Errorf("the lang cookie did not beat Accept-Language:\n%s", body)
	}
}
