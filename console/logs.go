package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/engine"
)

// logPageSize is how many entries one page of the log viewer shows.
const logPageSize = 100

// logRow is one entry as the viewer shows it; Data is compact JSON.
type logRow struct {
	Seq   int64
	Time  time.Time
	Actor string
	Event string
	Data  string
}

// logs shows one of the tenant's three logs with filters, and the state
// of the tenant's audit chains. The admin may open the system tenant's
// logs (sign-ins, server events) at /console/t/_system/logs.
func (h *Handler) logs(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	log := lethe.Log(q.Get("log"))
	if log == "" {
		log = lethe.LogSecurity
	}
	aq := lethe.AuditQuery{Tenant: tenant, Log: log, Actor: q.Get("actor"), Event: q.Get("event"), Limit: logPageSize}
	if s := q.Get("after"); s != "" {
		if aq.AfterSeq, err = strconv.ParseInt(s, 10, 64); err != nil || aq.AfterSeq < 0 {
			h.fail(w, r, fmt.Errorf("%w: after: want an entry number", lethe.ErrInvalid))
			return
		}
	}
	for _, b := range []struct {
		name string
		at   *time.Time
	}{{"from", &aq.From}, {"to", &aq.To}} {
		if s := q.Get(b.name); s != "" {
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				h.fail(w, r, fmt.Errorf("%w: %s: want a day as YYYY-MM-DD", lethe.ErrInvalid, b.name))
				return
			}
			if b.name == "to" {
				t = t.Add(24 * time.Hour)
			}
			*b.at = t
		}
	}
	es, next, err := h.eng.AuditLog(r.Context(), aq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]logRow, len(es))
	for i, e := range es {
		b, _ := json.Marshal(e.Data)
		rows[i] = logRow{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Event: e.Event, Data: string(b)}
	}
	data := map[string]any{"Tenant": tenant, "Rows": rows, "Log": string(log), "Q": q,
		"Logs": []lethe.Log{lethe.LogSecurity, lethe.LogManager, lethe.LogRuntime}}
	if next != 0 {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("log", string(log))
		nq.Set("after", strconv.FormatInt(next, 10))
		data["NextQuery"] = nq.Encode()
	}
	chain, err := h.chainStatus(r, tenant, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data["Chain"] = chain
	h.render(w, r, http.StatusOK, "logs", v, data)
}

// chainState is the audit-chain line of the log page.
type chainState struct {
	Breaks  []*audit.Break // of this tenant's chains
	Entries int64          // every chain's, shown to the admin only
	Chains  int
	Admin   bool
}

// chainStatus verifies the audit chains (hashes, links, signed heads) and
// keeps the breaks of the tenant's own: a tenant user learns nothing of
// another tenant's log, not even that it broke.
func (h *Handler) chainStatus(r *http.Request, tenant string, v *viewer) (*chainState, error) {
	rep, err := h.eng.VerifyAudit(r.Context())
	if err != nil {
		return nil, err
	}
	st := &chainState{Admin: v.User.Role == engine.ConsoleAdmin}
	if st.Admin {
		st.Entries, st.Chains = rep.Entries, rep.Chains
	}
	for _, b := range rep.Breaks {
		if b.Tenant == tenant || st.Admin {
			st.Breaks = append(st.Breaks, b)
		}
	}
	return st, nil
}
