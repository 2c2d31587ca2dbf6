package retention

import (
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// Input is what the planner needs of a record; the engine fills it without
// decrypting anything. A rule whose basis or condition lives in a sealed
// field can therefore only test whether the field is set (Has), never read
// its value: a timestamp basis must be a plain field.
type Input struct {
	Origin    string
	CreatedAt time.Time
	UpdatedAt time.Time
	State     lethe.State
	// Plain holds the non-PII fields; timestamps as RFC 3339 strings (or
	// time.Time values).
	Plain map[string]any
	// Has reports whether a field (plain or sealed) is set; nil means look
	// in Plain only.
	Has func(field string) bool
}

// Basis names that refer to the record's own timestamps rather than to a
// field.
const (
	BasisCreatedAt = "created_at"
	BasisUpdatedAt = "updated_at"
)

// RuleName is the name a rule goes by in tenant settings: its Name, or its
// action when the policy left the name out (a collection usually has one
// rule per action, so "delete" and "anonymize" are the natural keys).
func RuleName(r *policy.Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return string(r.Action)
}

// findRule returns the collection's rule that goes by name in settings.
func findRule(c *policy.Collection, name string) *policy.Rule {
	for _, r := range c.Rules {
		if RuleName(r) == name {
			return r
		}
	}
	return nil
}

// Period returns the rule's period for the tenant: the tenant's choice in
// s.Periods[rule name] if set, else the rule's default. It does not check
// the choice; ValidateSettings does that when the settings are saved.
func Period(r *policy.Rule, s *lethe.Settings) lethe.Duration {
	if s != nil {
		if d, ok := s.Periods[RuleName(r)]; ok {
			return d
		}
	}
	return r.Period.Default
}

// Plan returns the record's next action and when it is due. It is computed
// at write time and stored in an indexed column, so the sweeper finds due
// work with a range scan instead of evaluating every record.
//
// Among the delete and anonymize rules that apply, the earliest due wins;
// on a tie delete wins, because deleting removes the personal data as well.
// Anonymize rules are skipped once the record is anonymized, so that an
// anonymized record moves on to its delete rule. A legal hold pushes every
// candidate to the hold's end before the choice is made: a held record is
// neither deleted nor anonymized early, and when the hold ends both are due
// at once, so delete wins.
//
// The record is due when its DueAt is at or before the sweeper's clock,
// i.e. while DueAt.After(now) the record stays.
func Plan(c *policy.Collection, s *lethe.Settings, in Input) lethe.Plan {
	var best lethe.Plan
	var holdEnd time.Time
	holdKnown := false
	for _, r := range c.Rules {
		switch r.Action {
		case lethe.ActionDelete:
		case lethe.ActionAnonymize:
			if in.State == lethe.StateAnonymized {
				continue
			}
		default:
			continue
		}
		due, ok := ruleEnd(r, s, in)
		if !ok {
			continue
		}
		if !holdKnown {
			holdEnd, _ = latestHold(c, s, in)
			holdKnown = true
		}
		if due.Before(holdEnd) {
			due = holdEnd
		}
		if best.Action == lethe.ActionNone || due.Before(best.DueAt) ||
			(due.Equal(best.DueAt) && r.Action == lethe.ActionDelete && best.Action != lethe.ActionDelete) {
			best = lethe.Plan{Action: r.Action, Rule: RuleName(r), DueAt: due}
		}
	}
	return best
}

// Hold reports whether a hold rule keeps the record at time now, until
// when, and why. A hold keeps the record from the moment it applies until
// its basis plus its period, whatever the basis: a legal duty to keep an
// invoice for ten years is not lifted by the invoice being recent. When
// several holds apply, the one ending last is reported.
func Hold(c *policy.Collection, s *lethe.Settings, in Input, now time.Time) (held bool, until time.Time, reason string) {
	end, r := latestHold(c, s, in)
	if r == nil || !end.After(now) {
		return false, time.Time{}, ""
	}
	reason = r.Reason
	if reason == "" {
		reason = "legal hold " + RuleName(r)
	}
	return true, end, reason
}

// latestHold returns the latest end among the hold rules that apply to the
// record and that rule; zero and nil when none applies.
func latestHold(c *policy.Collection, s *lethe.Settings, in Input) (time.Time, *policy.Rule) {
	var end time.Time
	var rule *policy.Rule
	for _, r := range c.Rules {
		if r.Action != lethe.ActionHold {
			continue
		}
		e, ok := ruleEnd(r, s, in)
		if ok && (rule == nil || e.After(end)) {
			end, rule = e, r
		}
	}
	return end, rule
}

// ruleEnd is the rule's basis plus its period for the tenant; false when the
// rule's condition does not hold or its basis is not set yet.
func ruleEnd(r *policy.Rule, s *lethe.Settings, in Input) (time.Time, bool) {
	if !matches(r.When, in) {
		return time.Time{}, false
	}
	b, ok := basis(r.Basis, in)
	if !ok {
		return time.Time{}, false
	}
	return Period(r, s).After(b), true
}

// matches reports whether every given part of the condition holds.
func matches(w *policy.Condition, in Input) bool {
	if w == nil {
		return true
	}
	if len(w.Origin) > 0 {
		found := false
		for _, o := range w.Origin {
			if strings.EqualFold(o, in.Origin) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, f := range w.Present {
		if !has(in, f) {
			return false
		}
	}
	return true
}

// has reports whether the field is set: through in.Has when given, else a
// non-null, non-empty value in Plain.
func has(in Input, field string) bool {
	if in.Has != nil {
		return in.Has(field)
	}
	v, ok := in.Plain[field]
	if !ok || v == nil {
		return false
	}
	if str, ok := v.(string); ok && str == "" {
		return false
	}
	return true
}

// dateLayout is how a date field (policy.TypeDate) is stored.
const dateLayout = "2006-01-02"

// basis resolves a rule's basis to a time. An empty basis counts from
// creation. A zero time, a missing field or a value that is neither an RFC
// 3339 timestamp nor a YYYY-MM-DD date means the rule does not apply yet: a
// record is never planned from a guess.
func basis(name string, in Input) (time.Time, bool) {
	var t time.Time
	switch name {
	case BasisCreatedAt, "":
		t = in.CreatedAt
	case BasisUpdatedAt:
		t = in.UpdatedAt
	default:
		switch v := in.Plain[name].(type) {
		case time.Time:
			t = v
		case string:
			// A date field counts from 00:00 UTC of its day: the one
			// reading that needs no zone the record does not carry.
			p, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				p, err = time.Parse(dateLayout, v)
			}
			if err != nil {
				return time.Time{}, false
			}
			t = p
		default:
			return time.Time{}, false
		}
	}
	return t, !t.IsZero()
}
