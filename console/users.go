package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// dashboard lists what the viewer reaches: every tenant for the admin, the
// collections of its tenant for the others.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, v *viewer) {
	data := map[string]any{}
	if v.User.Role == engine.ConsoleAdmin {
		p, err := h.eng.ListTenants(r.Context(), 100, r.URL.Query().Get("next"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data["Tenants"], data["Next"] = p.Items, p.Next
		h.render(w, r, http.StatusOK, "dashboard", v, data)
		return
	}
	h.tenantDashboard(w, r, v)
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.showUsers(w, r, v, http.StatusOK, "")
}

func (h *Handler) showUsers(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	us, err := h.eng.ConsoleUsers(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, status, "users", v, map[string]any{"Users": us, "Error": msg})
}

func (h *Handler) addUser(w http.ResponseWriter, r *http.Request, v *viewer) {
	hash, err := HashPassword(r.PostFormValue("password"))
	if err != nil {
		h.showUsers(w, r, v, http.StatusBadRequest, err.Error())
		return
	}
	u := engine.ConsoleUser{
		Name:   strings.ToLower(strings.TrimSpace(r.PostFormValue("name"))),
		Tenant: strings.TrimSpace(r.PostFormValue("tenant")),
		Role:   engine.ConsoleRole(r.PostFormValue("role")),
		Hash:   hash,
	}
	if err := h.eng.AddConsoleUser(r.Context(), "console:"+v.User.Name, u); err != nil {
		h.showUsers(w, r, v, statusOf(err), err.Error())
		return
	}
	http.Redirect(w, r, Prefix+"users", http.StatusSeeOther)
}

func (h *Handler) removeUser(w http.ResponseWriter, r *http.Request, v *viewer) {
	name := r.PostFormValue("name")
	if name == v.User.Name {
		h.showUsers(w, r, v, http.StatusBadRequest, fmt.Sprintf("%s: %s", lethe.ErrInvalid, h.tr(r, "you cannot remove yourself")))
		return
	}
	if err := h.eng.RemoveConsoleUser(r.Context(), "console:"+v.User.Name, name); err != nil {
		h.showUsers(w, r, v, statusOf(err), err.Error())
		return
	}
	http.Redirect(w, r, Prefix+"users", http.StatusSeeOther)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, lethe.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, lethe.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, lethe.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
