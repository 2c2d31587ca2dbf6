package retention

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// MaxPlaceholder is the longest placeholder text a tenant may set, in
// characters. The placeholder replaces names on documents, so it has to fit
// where a name fits.
const MaxPlaceholder = 200

// Enabled reports whether the collection is on for the tenant:
// non-switchable collections always; else s.Enabled if set, else
// c.EnabledByDefault.
func Enabled(c *policy.Collection, s *lethe.Settings) bool {
	if !c.Switchable {
		return true
	}
	if s != nil && s.Enabled != nil {
		return *s.Enabled
	}
	return c.EnabledByDefault
}

// ValidateSettings checks a tenant's settings against the collection and
// refuses what cannot take effect:
//
//   - periods only for existing rules, each the rule's default or one of
//     its options and never above its maximum;
//   - an anonymize period that is not shorter than the delete period of
//     the same basis: the record would be deleted before (or at the moment)
//     it is anonymized, so the choice of anonymizing would do nothing;
//   - enabled=false only for switchable collections;
//   - drop_metadata only where a field is anonymized by drop_keys (nothing
//     else reads the list), with non-empty keys;
//   - a placeholder only where a field is anonymized by placeholder, of at
//     most MaxPlaceholder characters.
//
// Every problem is reported, not only the first, so that a settings page
// can mark all wrong fields at once: the errors are *lethe.FieldError values
// (they match lethe.ErrInvalid) joined with errors.Join, and each Reason
// names what would be allowed.
func ValidateSettings(c *policy.Collection, s *lethe.Settings) error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.Enabled != nil && !*s.Enabled && !c.Switchable {
		errs = append(errs, &lethe.FieldError{
			Field:  "enabled",
			Reason: fmt.Sprintf("collection %s is required and cannot be switched off", c.Name),
		})
	}
	names := make([]string, 0, len(s.Periods))
	for name := range s.Periods {
		names = append(names, name)
	}
	sort.Strings(names)
	refused := map[string]bool{}
	for _, name := range names {
		if reason := checkPeriod(c, name, s.Periods[name]); reason != "" {
			errs = append(errs, &lethe.FieldError{Field: "periods." + name, Reason: reason})
			refused[name] = true
		}
	}
	errs = append(errs, checkOrder(c, s, refused)...)
	if len(s.DropMetadata) > 0 && !uses(c.Fields, policy.OpDropKeys) {
		errs = append(errs, &lethe.FieldError{
			Field:  "drop_metadata",
			Reason: fmt.Sprintf("collection %s has no field anonymized by drop_keys, so no metadata key would be dropped", c.Name),
		})
	}
	for i, k := range s.DropMetadata {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, &lethe.FieldError{
				Field:  fmt.Sprintf("drop_metadata[%d]", i),
				Reason: "metadata key must not be empty",
			})
		}
	}
	if s.Placeholder != "" && !uses(c.Fields, policy.OpPlaceholder) {
		errs = append(errs, &lethe.FieldError{
			Field:  "placeholder",
			Reason: fmt.Sprintf("collection %s has no field anonymized by placeholder, so the text would never be used", c.Name),
		})
	}
	if n := utf8.RuneCountInString(s.Placeholder); n > MaxPlaceholder {
		errs = append(errs, &lethe.FieldError{
			Field:  "placeholder",
			Reason: fmt.Sprintf("placeholder is %d characters long; at most %d are allowed", n, MaxPlaceholder),
		})
	}
	return errors.Join(errs...)
}

// checkOrder refuses an anonymize period that is not shorter than a delete
// period counted from the same basis, at every start (lethe.Duration.Shorter:
// "1y" against "365d" is refused, since some years have 365 days). Equal
// periods are refused too: both would be due at once, delete wins
// (see Plan), and the record is never anonymized.
//
// Only pairs where the delete rule applies whenever the anonymize rule
// does are compared (no condition on the delete rule, or the same one);
// rules on different bases (created_at against last_activity_at) have no
// order. A pair is reported only when the tenant chose one of its periods,
// on the period the tenant chose (the delete period when both), so that a
// policy's own defaults never block a settings change. Pairs with a
// period refused already are left out: that period is reported, and
// would not be stored.
func checkOrder(c *policy.Collection, s *lethe.Settings, refused map[string]bool) []error {
	var errs []error
	for _, an := range c.Rules {
		if an.Action != lethe.ActionAnonymize {
			continue
		}
		for _, del := range c.Rules {
			if del.Action != lethe.ActionDelete || basisName(del.Basis) != basisName(an.Basis) || !coversCondition(del.When, an.When) {
				continue
			}
			_, anSet := s.Periods[RuleName(an)]
			_, delSet := s.Periods[RuleName(del)]
			if !anSet && !delSet || refused[RuleName(an)] || refused[RuleName(del)] {
				continue
			}
			a, d := Period(an, s), Period(del, s)
			if a.Shorter(d) {
				continue
			}
			field := "periods." + RuleName(del)
			if !delSet {
				field = "periods." + RuleName(an)
			}
			errs = append(errs, &lethe.FieldError{
				Field: field,
				Reason: fmt.Sprintf("%s period %s must be shorter than %s period %s: records would be deleted before they are anonymized",
					RuleName(an), a, RuleName(del), d),
			})
		}
	}
	return errs
}

func basisName(b string) string {
	if b == "" {
		return BasisCreatedAt
	}
	return b
}

// coversCondition reports whether a rule with condition outer applies to
// every record a rule with condition inner applies to, as far as can be
// told without records: outer has none, or both are the same.
func coversCondition(outer, inner *policy.Condition) bool {
	if outer == nil {
		return true
	}
	if inner == nil {
		return false
	}
	return slices.Equal(outer.Origin, inner.Origin) && slices.Equal(outer.Present, inner.Present)
}

// uses reports whether any field, or any item field of a list, is
// anonymized by op.
func uses(fields []*policy.Field, op policy.Operator) bool {
	for _, f := range fields {
		if f.Anonymize == op || uses(f.Items, op) {
			return true
		}
	}
	return false
}

// checkPeriod returns why the period d may not be chosen for the rule
// called name, or "" when it may. Periods are compared by what they add to
// every start (lethe.Duration.Same, AtMost), so "7d" and "168h" are the
// same choice, while "1y" and "365d" are not.
func checkPeriod(c *policy.Collection, name string, d lethe.Duration) string {
	r := findRule(c, name)
	if r == nil {
		known := make([]string, 0, len(c.Rules))
		for _, r := range c.Rules {
			known = append(known, RuleName(r))
		}
		if len(known) == 0 {
			return fmt.Sprintf("unknown rule %q; collection %s has no retention rules", name, c.Name)
		}
		return fmt.Sprintf("unknown rule %q; rules are %s", name, strings.Join(known, ", "))
	}
	p := r.Period
	if !p.Max.IsZero() && !d.AtMost(p.Max) {
		return fmt.Sprintf("period %s is above the maximum %s", d, p.Max)
	}
	allowed := allowedPeriods(p)
	for _, a := range allowed {
		if a.Same(d) {
			return ""
		}
	}
	if len(allowed) == 0 {
		return fmt.Sprintf("period %s is not allowed; the rule offers no period within its maximum %s", d, p.Max)
	}
	if len(allowed) == 1 {
		return fmt.Sprintf("period %s is not allowed; the period of this rule is fixed at %s", d, allowed[0])
	}
	list := make([]string, len(allowed))
	for i, a := range allowed {
		list[i] = a.String()
	}
	return fmt.Sprintf("period %s is not allowed; choose one of %s", d, strings.Join(list, ", "))
}

// allowedPeriods lists the default and the options within the maximum,
// shortest first and without repeats, as a settings page would offer them.
func allowedPeriods(p policy.Period) []lethe.Duration {
	all := append([]lethe.Duration{p.Default}, p.Options...)
	slices.SortStableFunc(all, lethe.Duration.Compare)
	out := all[:0]
	for _, d := range all {
		if !p.Max.IsZero() && !d.AtMost(p.Max) {
			continue
		}
		if len(out) > 0 && out[len(out)-1].Same(d) {
			continue
		}
		out = append(out, d)
	}
	return out
}
