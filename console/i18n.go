package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The console speaks English and German. English is the source language:
// a message's key is its English text (a fmt format when it takes
// arguments), so templates stay readable and an English page needs no
// lookup. Every other language has a catalogue below; a key missing from
// it is an error when a template is executed, so a forgotten translation
// fails the page (and the tests that render every page in every language)
// instead of quietly showing English in a German page.

const (
	langEN = "en"
	langDE = "de"
	// langCookie remembers a language chosen with ?lang=; without it the
	// browser's Accept-Language header decides.
	langCookie = "lethe_lang"
)

// languages are the console's languages, the default first.
var languages = []string{langEN, langDE}

// langNames are the names the switch link shows, each in its own
// language.
var langNames = map[string]string{langEN: "English", langDE: "Deutsch"}

type langKey struct{}

// withLanguage picks the request's language and remembers an explicit
// choice (?lang=de) in a cookie, so the next pages keep it.
func withLanguage(w http.ResponseWriter, r *http.Request) *http.Request {
	l := ""
	if q := r.URL.Query().Get("lang"); supported(q) {
		l = q
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: "/console/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	} else if ck, err := r.Cookie(langCookie); err == nil && supported(ck.Value) {
		l = ck.Value
	} else {
		l = acceptLanguage(r.Header.Get("Accept-Language"))
	}
	return r.WithContext(context.WithValue(r.Context(), langKey{}, l))
}

func supported(l string) bool {
	for _, s := range languages {
		if l == s {
			return true
		}
	}
	return false
}

// language is the language withLanguage chose (English outside it).
func language(ctx context.Context) string {
	if l, ok := ctx.Value(langKey{}).(string); ok {
		return l
	}
	return langEN
}

// acceptLanguage returns the supported language the header weighs
// highest (RFC 9110 §12.5.4), comparing primary subtags only ("de-AT"
// is German); English when none is supported.
func acceptLanguage(h string) string {
	type pref struct {
		lang string
		q    float64
		pos  int
	}
	var ps []pref
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > 0 && supported(primary) {
			ps = append(ps, pref{primary, q, i})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].q > ps[j].q })
	if len(ps) == 0 {
		return langEN
	}
	return ps[0].lang
}

// translate looks key up in lang's catalogue and formats it with args.
func translate(lang, key string, args ...any) (string, error) {
	s := key
	if lang != langEN {
		var ok bool
		if s, ok = catalog[lang][key]; !ok {
			return key, fmt.Errorf("console: no %s text for %q", lang, key)
		}
	}
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s, nil
}

// tr is translate for messages made in Go code: a missing text is
// logged and the English one shown, since a handler cannot fail over
// a message. TestCatalogue_CoversEveryKey finds these keys in the source.
func (h *Handler) tr(r *http.Request, key string, args ...any) string {
	s, err := translate(language(r.Context()), key, args...)
	if err != nil {
		h.log.Error("console: translation", "err", err)
		return fmt.Sprintf(key, args...)
	}
	return s
}

// word translates a value from the data (a state, an action, a role)
// when the catalogue knows it, and shows it as it is otherwise: such
// values are identifiers first, and a new one must not break a page.
func word(lang string, v any) string {
	s := fmt.Sprint(v)
	if t, ok := catalog[lang]["="+s]; ok {
		return t
	}
	return s
}

// switchLinks are the layout's language links: the current page in each
// other language.
func switchLinks(r *http.Request) []map[string]string {
	cur := language(r.Context())
	var out []map[string]string
	for _, l := range languages {
		if l == cur {
			continue
		}
		q := url.Values{}
		if r.Method == http.MethodGet {
			q = r.URL.Query()
		}
		q.Set("lang", l)
		out = append(out, map[string]string{"Lang": l, "Name": langNames[l], "Href": r.URL.Path + "?" + q.Encode()})
	}
	return out
}
