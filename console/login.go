package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

const (
	sessionCookie = "lethe_session"
	// loginCSRFCookie holds the double-submit token of the sign-in form,
	// which has no session to bind a token to yet.
	loginCSRFCookie = "lethe_login_csrf"
	csrfField       = "csrf"
)

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		h.fail(w, r, err)
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/console/login", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	h.render(w, r, status, "login", nil, map[string]any{"CSRF": tok, "Error": msg})
}

// login checks the form's CSRF token, the rate limits, then the password;
// every failure is in the security log (system tenant, as the API's).
// The answer to a wrong name and to a wrong password is the same.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCSRFCookie)
	given := r.PostFormValue(csrfField)
	if err != nil || given == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(given)) != 1 {
		h.showLogin(w, r, http.StatusForbidden, h.tr(r, "The sign-in form expired; please try again."))
		return
	}
	name := strings.TrimSpace(strings.ToLower(r.PostFormValue("user")))
	password := r.PostFormValue("password")
	ip := clientIP(r)
	keys := []string{"user:" + name, "ip:" + ip}
	attempt := engine.AuthAttempt{Actor: "console:" + name, IP: ip, Route: "/console/login"}
	if h.lim.blocked(keys...) {
		h.logAuth(r, attempt, "rate_limited")
		h.showLogin(w, r, http.StatusTooManyRequests, h.tr(r, "Too many failed sign-ins; wait 15 minutes and try again."))
		return
	}
	u, err := h.eng.ConsoleUser(r.Context(), name)
	hash := dummyHash()
	if err == nil {
		hash = u.Hash
	} else if !errors.Is(err, lethe.ErrNotFound) {
		h.fail(w, r, err)
		return
	}
	ok, cerr := CheckPassword(hash, password)
	if cerr != nil {
		h.log.Error("console: stored password hash unreadable", "user", name)
	}
	if u == nil || !ok {
		h.lim.fail(keys...)
		h.logAuth(r, attempt, "bad_credentials")
		h.showLogin(w, r, http.StatusUnauthorized, h.tr(r, "Wrong user name or password."))
		return
	}
	tok, c, err := h.sess.issue(u.Name, u.Tenant, string(u.Role))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	attempt.OK, attempt.Tenant = true, u.Tenant
	if err := h.eng.LogAuth(r.Context(), attempt); err != nil {
		h.fail(w, r, err) // fail closed: an unaudited sign-in does not happen
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: Prefix, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, Expires: c.ExpiresAt.Time, MaxAge: int(SessionLifetime.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/console/login", MaxAge: -1, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (h *Handler) logAuth(r *http.Request, a engine.AuthAttempt, why string) {
	a.Route += "#" + why
	if err := h.eng.LogAuth(r.Context(), a); err != nil {
		h.log.Error("console: security log", "err", err)
	}
}

// logout denies the session's token until its expiry and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	err := h.eng.RevokeConsoleSession(r.Context(), v.c.ID, v.c.ExpiresAt.Time)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
	if err != nil {
		// The cookie is gone from this browser, but a copy of the token
		// would still work: say so rather than pretend.
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
