package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where lethe serve mounts the console.
const Prefix = "/console/"

// Config is what the console needs: the engine it calls, a logger and,
// for tests, a clock.
type Config struct {
	Engine *engine.Engine
	Logger *slog.Logger
	Now    func() time.Time
	// SweepInterval is how often lethe serve sweeps (0: not on a
	// schedule), shown on the protection page.
	SweepInterval time.Duration
}

// Handler serves the console pages under Prefix.
type Handler struct {
	eng   *engine.Engine
	log   *slog.Logger
	now   func() time.Time
	sess  *sessions
	lim   *limiter
	pages map[string]*template.Template
	mux   *http.ServeMux

	sweepEvery time.Duration
}

// New builds the console. It fetches (on a first start, makes) the
// session key, so it fails if the master key cannot unwrap it.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, errors.New("console: Engine is required")
	}
	key, err := cfg.Engine.ConsoleKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	h := &Handler{eng: cfg.Engine, log: cfg.Logger, now: cfg.Now, pages: make(map[string]*template.Template), sweepEvery: cfg.SweepInterval}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.sess = newSessions(key, h.now)
	h.lim = newLimiter(h.now)
	for _, p := range []string{"login", "dashboard", "tenant", "users", "error", "settings_index", "settings", "protection", "records", "record", "subjects", "requests", "request", "logs", "dataprotection"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/counts.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		h.pages[p] = t
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /console/login", h.loginPage)
	m.HandleFunc("POST /console/login", h.login)
	m.HandleFunc("POST /console/logout", h.page(h.logout, anyRole...))
	m.HandleFunc("GET /console/{$}", h.page(h.dashboard, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/{$}", h.page(h.tenantDashboard, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/settings", h.page(h.settingsIndex, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/settings/{collection}", h.page(h.settingsPage, anyRole...))
	m.HandleFunc("POST /console/t/{tenant}/settings/{collection}", h.page(h.saveSettings, writers...))
	m.HandleFunc("GET /console/t/{tenant}/protection", h.page(h.protection, anyRole...))
	m.HandleFunc("POST /console/t/{tenant}/protection", h.page(h.activateProtection, writers...))
	m.HandleFunc("GET /console/t/{tenant}/records", h.page(h.records, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/records/{collection}/{id}", h.page(h.record, anyRole...))
	m.HandleFunc("POST /console/t/{tenant}/records/{collection}/{id}", h.page(h.record, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/subjects", h.page(h.subjects, anyRole...))
	m.HandleFunc("POST /console/t/{tenant}/subjects", h.page(h.subjects, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/requests", h.page(h.requests, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/requests/{id}", h.page(h.request, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/requests/{id}/export", h.page(h.download, writers...))
	m.HandleFunc("GET /console/t/{tenant}/logs", h.page(h.logs, anyRole...))
	m.HandleFunc("GET /console/t/{tenant}/dataprotection", h.page(h.dataProtection, anyRole...))
	m.HandleFunc("GET /console/users", h.page(h.users, engine.ConsoleAdmin))
	m.HandleFunc("POST /console/users", h.page(h.addUser, engine.ConsoleAdmin))
	m.HandleFunc("POST /console/users/remove", h.page(h.removeUser, engine.ConsoleAdmin))
	h.mux = m
	return h, nil
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// show prints a field value: strings as they are, the rest as JSON.
	"show": func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	// t translates a text of the page into the page's language .L.
	"t": translate,
	// w translates a value from the data, if the catalogue knows it.
	"w": word,
	// pass hands a sub-template its data together with the language.
	"pass": func(lang string, d any) map[string]any { return map[string]any{"L": lang, "D": d} },
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
}

var (
	anyRole = []engine.ConsoleRole{engine.ConsoleAdmin, engine.ConsoleManager, engine.ConsoleAuditor}
	// writers may change settings and start requests; the auditor reads.
	writers = []engine.ConsoleRole{engine.ConsoleAdmin, engine.ConsoleManager}
)

// ServeHTTP sets the headers every page has, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Vary", "Accept-Language, Cookie")
	h.mux.ServeHTTP(w, withLanguage(w, r))
}

// viewer is the signed-in user a page is rendered for.
type viewer struct {
	User engine.ConsoleUser
	c    *claims
	CSRF string
	// Tenant is the tenant the page is about, for the navigation ("" on
	// the admin's tenant list).
	Tenant string
}

func (v *viewer) canWrite() bool {
	return v.User.Role == engine.ConsoleAdmin || v.User.Role == engine.ConsoleManager
}

type pageFunc func(w http.ResponseWriter, r *http.Request, v *viewer)

// page wraps a handler with the session check (to the login page without
// one), the role check (403 for a role not listed) and, on POST, the CSRF
// check (403 without the session's token). The user is looked up on every
// request, so removing a user ends its sessions.
func (h *Handler) page(fn pageFunc, roles ...engine.ConsoleRole) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		c, err := h.sess.check(ck.Value)
		if err != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		// A signed-out token is refused; when the deny list cannot be
		// read, so is every token (fail closed).
		denied, err := h.eng.ConsoleSessionRevoked(r.Context(), c.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if denied {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		u, err := h.eng.ConsoleUser(r.Context(), c.Subject)
		if err != nil {
			if errors.Is(err, lethe.ErrNotFound) {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			h.fail(w, r, err)
			return
		}
		v := &viewer{User: *u, c: c, CSRF: h.sess.csrfToken(c), Tenant: u.Tenant}
		if r.Method == http.MethodPost && !h.sess.csrfOK(c, r.PostFormValue(csrfField)) {
			h.render(w, r, http.StatusForbidden, "error", v, map[string]any{"Message": h.tr(r, "This form has expired or did not come from the console. Reload the page and try again.")})
			return
		}
		allowed := false
		for _, role := range roles {
			if u.Role == role {
				allowed = true
			}
		}
		if !allowed {
			h.render(w, r, http.StatusForbidden, "error", v, map[string]any{"Message": h.tr(r, "Your role (%s) may not open this page.", word(language(r.Context()), u.Role))})
			return
		}
		// Everything the engine audits for this request names the console
		// user, as the API names its key.
		r = r.WithContext(engine.WithCaller(r.Context(), engine.Caller{Actor: "console:" + u.Name, IP: clientIP(r)}))
		fn(w, r, v)
	}
}

// render writes a page. Data reaches the template as .V (the viewer, nil
// on the login page), .D, .L (the language) and .Switch (links to the
// page in the other languages). The page is executed into a buffer first,
// so a template error (a missing translation among them) answers 500
// instead of half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *viewer, data any) {
	// An error page's language links lead to the dashboard: they do not
	// echo a path the viewer may not open.
	back := r
	if page == "error" {
		back = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: Prefix}}
		back = back.WithContext(r.Context())
	}
	var b bytes.Buffer
	err := h.pages[page].ExecuteTemplate(&b, "layout", map[string]any{"V": v, "D": data, "L": language(r.Context()), "Switch": switchLinks(back)})
	if err != nil {
		h.log.Error("console: render", "page", page, "err", err)
		http.Error(w, "console: page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail shows an error page whose status follows the engine's sentinel
// errors, as the API's problem map does.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := h.tr(r, "Something went wrong; the server log has the details.")
	switch {
	case errors.Is(err, lethe.ErrInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, lethe.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, lethe.ErrConflict):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, lethe.ErrForbidden):
		status, msg = http.StatusForbidden, err.Error()
	default:
		h.log.Error("console", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "error", nil, map[string]any{"Message": msg})
}

// secure says whether cookies get the Secure flag: always, except over
// plain HTTP from loopback, where a browser would drop a Secure cookie
// and nothing crosses a network.
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
