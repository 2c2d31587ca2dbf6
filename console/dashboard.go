package console

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// collectionRow is one line of a tenant's dashboard.
type collectionRow struct {
	Name, Title string
	Planned     int64  // records with an action planned, any date
	Due30       int64  // of those, due within 30 days
	Next        string // day of the next planned action, "" for none
	NextAction  lethe.Action
}

// planHorizon bounds the plan summary of "all planned records": retention
// periods are years (ten for invoices), never centuries.
const planHorizon = 100 * 365 * 24 * time.Hour

// tenantFor is the tenant a page is about: the user's own, or for the
// admin the one in the path. A user of one tenant never reaches another.
func (h *Handler) tenantFor(r *http.Request, v *viewer) (string, error) {
	t := r.PathValue("tenant")
	if v.User.Role == engine.ConsoleAdmin {
		if t == "" {
			return "", fmt.Errorf("%w: name a tenant", lethe.ErrInvalid)
		}
		v.Tenant = t
		return t, nil
	}
	if t != "" && t != v.User.Tenant {
		return "", fmt.Errorf("%w: your account does not reach tenant %q", lethe.ErrForbidden, t)
	}
	return v.User.Tenant, nil
}

// tenantDashboard shows a tenant's collections with their planned
// deletions, its open requests and (for the admin, since it counts every
// tenant's records) the sweep lag. Counts only: no PII on this page.
func (h *Handler) tenantDashboard(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.eng.Tenant(ctx, tenant); err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.eng.Collections(ctx, tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := h.now()
	all, err := h.eng.PlanSummary(ctx, tenant, now.Add(planHorizon))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	soon := now.Add(30 * 24 * time.Hour).UTC().Format(time.DateOnly)
	rows := make([]collectionRow, len(cs))
	byName := make(map[string]*collectionRow, len(cs))
	for i, c := range cs {
		rows[i] = collectionRow{Name: c.Name, Title: c.Title}
		byName[c.Name] = &rows[i]
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Day < all[j].Day })
	for _, b := range all {
		row := byName[b.Collection]
		if row == nil {
			continue
		}
		row.Planned += b.Count
		if b.Day <= soon {
			row.Due30 += b.Count
		}
		if row.Next == "" {
			row.Next, row.NextAction = b.Day, b.Action
		}
	}
	open := 0
	for _, st := range []lethe.RequestState{lethe.RequestPending, lethe.RequestRunning} {
		p, err := h.eng.ListRequests(ctx, tenant, engine.RequestFilter{State: st, Limit: engine.MaxPageLimit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		open += len(p.Items)
	}
	data := map[string]any{"Tenant": tenant, "Rows": rows, "OpenRequests": open}
	if v.User.Role == engine.ConsoleAdmin {
		n, lag, err := h.eng.Lag(ctx)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data["Overdue"], data["Lag"] = n, lag.Round(time.Second).String()
	}
	h.render(w, r, http.StatusOK, "tenant", v, data)
}
