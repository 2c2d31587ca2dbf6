package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/retention"
)

// protectedOrigin is one marketplace origin on the protection page (X1,
// X2): the collections its rules cover and the state of the protection.
type protectedOrigin struct {
	Origin      string
	Collections []string
	Reasons     []string
	Records     int64
	Since       time.Time // first record of the origin; zero for none yet
}

// protectionState is what the page shows about the scheduled
// anonymization of the tenant.
type protectionState struct {
	Tenant      string
	Origins     []*protectedOrigin
	Activated   *engine.LogEntry // the newest protection.activate, nil if never
	NextDay     string           // day of the next planned anonymization
	NextCount   int64
	LastRun     time.Time // the newest sweep batch that reached the tenant
	LastAnon    int64     // records it anonymized in the protected collections
	Interval    time.Duration
	CanActivate bool
}

const eventActivate = "protection.activate"

var errNoOrigins = fmt.Errorf("%w: the tenant's packs protect no marketplace origin", lethe.ErrInvalid)

func (h *Handler) protection(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.protectionState(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st.CanActivate = v.canWrite()
	h.render(w, r, http.StatusOK, "protection", v, st)
}

func (h *Handler) protectionState(ctx context.Context, tenant string) (*protectionState, error) {
	rules, err := h.eng.Origins(ctx, tenant)
	if err != nil {
		return nil, err
	}
	st := &protectionState{Tenant: tenant, Interval: h.sweepEvery}
	byOrigin := map[string]*protectedOrigin{}
	protected := map[string]bool{}
	for _, o := range rules {
		p := byOrigin[o.Origin]
		if p == nil {
			p = &protectedOrigin{Origin: o.Origin, Records: o.Records, Since: o.Since}
			byOrigin[o.Origin] = p
			st.Origins = append(st.Origins, p)
		}
		p.Collections = append(p.Collections, o.Collection)
		if len(p.Reasons) == 0 || p.Reasons[len(p.Reasons)-1] != o.Reason {
			p.Reasons = append(p.Reasons, o.Reason)
		}
		protected[o.Collection] = true
	}
	if len(st.Origins) == 0 {
		return st, nil
	}
	buckets, err := h.eng.PlanSummary(ctx, tenant, h.now().Add(planHorizon))
	if err != nil {
		return nil, err
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].Day < buckets[j].Day })
	for _, b := range buckets {
		if b.Action != lethe.ActionAnonymize || !protected[b.Collection] {
			continue
		}
		if st.NextDay == "" {
			st.NextDay = b.Day
		}
		if b.Day == st.NextDay {
			st.NextCount += b.Count
		}
	}
	if st.Activated, err = h.newestEntry(ctx, tenant, eventActivate); err != nil {
		return nil, err
	}
	last, err := h.newestEntry(ctx, tenant, "sweep.batch")
	if err != nil {
		return nil, err
	}
	if last != nil {
		st.LastRun = last.Time
		counts, _ := last.Data["counts"].(map[string]any)
		anon, _ := counts[string(lethe.ActionAnonymize)].(map[string]any)
		for coll, n := range anon {
			if f, ok := n.(float64); ok && protected[coll] {
				st.LastAnon += int64(f)
			}
		}
	}
	return st, nil
}

// newestEntry is the tenant's newest security-log entry of an event. The
// log is read in order, page by page; events of one kind are few (one
// per sweep batch that reached the tenant).
func (h *Handler) newestEntry(ctx context.Context, tenant, event string) (*engine.LogEntry, error) {
	var last *engine.LogEntry
	q := lethe.AuditQuery{Tenant: tenant, Log: lethe.LogSecurity, Event: event, Limit: 1000}
	for {
		es, next, err := h.eng.AuditLog(ctx, q)
		if err != nil {
			return nil, err
		}
		if len(es) > 0 {
			last = es[len(es)-1]
		}
		if next == 0 {
			return last, nil
		}
		q.AfterSeq = next
	}
}

// activateProtection is the one button of X2. The anonymization itself is
// the policy's rule and acts from the origin's first record on (X1), so a
// shop that never clicks is protected all the same; the button records the
// shop's decision in the security log, pins each origin rule's period in
// the collection's settings (a later pack change cannot move it without a
// visible settings change) and runs the sweeper at once, so that records
// already due are anonymized now rather than at the next scheduled run.
func (h *Handler) activateProtection(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rules, err := h.eng.Origins(ctx, tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(rules) == 0 {
		h.fail(w, r, errNoOrigins)
		return
	}
	actor := "console:" + v.User.Name
	var origins, colls []string
	seen := map[string]bool{}
	for _, o := range rules {
		c, err := h.eng.Collection(ctx, tenant, o.Collection)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		s, err := h.eng.Settings(ctx, tenant, c.Name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, rule := range c.Rules {
			if retention.RuleName(rule) != o.Rule {
				continue
			}
			d := retention.Period(rule, s)
			if _, err := h.eng.PatchSettings(ctx, actor, tenant, c.Name, &lethe.SettingsPatch{Periods: map[string]*lethe.Duration{o.Rule: &d}}); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		if !seen["o:"+o.Origin] {
			seen["o:"+o.Origin] = true
			origins = append(origins, o.Origin)
		}
		if !seen["c:"+o.Collection] {
			seen["c:"+o.Collection] = true
			colls = append(colls, o.Collection)
		}
	}
	if err := h.eng.LogEvent(ctx, tenant, lethe.LogSecurity, actor, eventActivate,
		map[string]any{"origins": origins, "collections": colls}, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	if res, err := h.eng.SweepTenant(ctx, tenant); err != nil {
		h.log.Error("console: sweep after activation", "tenant", tenant, "err", err)
	} else if res.Busy {
		h.log.Info("console: sweep after activation left to the instance sweeping now", "tenant", tenant)
	}
	http.Redirect(w, r, Prefix+"t/"+tenant+"/protection", http.StatusSeeOther)
}
