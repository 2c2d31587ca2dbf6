package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

// originWarnings says, for an origin request that changed records the
// marketplace needs, that shipping and invoicing can no longer be
// guaranteed for them (X3).
func originWarnings(ts *tenantState, j *lethe.Request, counts map[string]map[string]int64) []string {
	if j.Scope.Kind != lethe.ScopeOrigin || j.Type == lethe.RequestExport {
		return nil
	}
	var n int64
	var colls []string
	for coll, byAction := range counts {
		c := ts.set.Collection(coll)
		if c == nil || !hasOriginRule(c, j.Scope.Origin) {
			continue
		}
		k := byAction[string(lethe.ActionDelete)] + byAction[string(lethe.ActionAnonymize)]
		if k > 0 {
			n += k
			colls = append(colls, coll)
		}
	}
	if n == 0 {
		return nil
	}
	sort.Strings(colls)
	verb := "were"
	if j.DryRun {
		verb = "would be"
	}
	action := "anonymized"
	if j.Type == lethe.RequestErase {
		action = "erased"
	}
	return []string{fmt.Sprintf("%d records of origin %s (%s) %s %s: shipping and invoicing can no longer be guaranteed for the affected orders",
		n, j.Scope.Origin, strings.Join(colls, ", "), verb, action)}
}

func hasOriginRule(c *policy.Collection, origin string) bool {
	for _, r := range c.Rules {
		if r.When == nil {
			continue
		}
		for _, o := range r.When.Origin {
			if o == origin {
				return true
			}
		}
	}
	return false
}

// OriginRule is one protection rule bound to an origin, and whether the
// tenant has switched it on by holding records of that origin (X1).
type OriginRule struct {
	Origin     string
	Collection string
	Rule       string
	Reason     string
	Active     bool
	Since      time.Time // the first record of the origin; zero when inactive
	Records    int64     // the tenant's records of the origin, all collections
}

// Origins lists the tenant's origin rules (rules with when.origin). A rule
// is active from the first record of its origin on: the protection
// switches itself on with the marketplace connection's first data.
func (e *Engine) Origins(ctx context.Context, tenant string) ([]OriginRule, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	stats, err := e.store.Origins(ctx, tenant)
	if err != nil {
		return nil, err
	}
	byOrigin := map[string]lethe.OriginStat{}
	for _, s := range stats {
		byOrigin[s.Origin] = s
	}
	var out []OriginRule
	for _, c := range ts.set.Collections() {
		for _, rule := range c.Rules {
			if rule.When == nil {
				continue
			}
			for _, o := range rule.When.Origin {
				st, ok := byOrigin[o]
				or := OriginRule{Origin: o, Collection: c.Name, Rule: retention.RuleName(rule), Reason: rule.Reason, Active: ok && st.Records > 0, Records: st.Records}
				if or.Active {
					or.Since = st.First
				}
				out = append(out, or)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Origin != out[j].Origin {
			return out[i].Origin < out[j].Origin
		}
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}
