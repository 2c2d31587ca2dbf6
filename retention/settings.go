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

// ValidateSettings checks a tenant's settings against the collection:
// periods only for existing rules, each period either the rule's default or
// one of its options and never above its maximum; enabled=false only for
// switchable collections; drop_metadata keys non-empty; a placeholder of at
// most MaxPlaceholder characters.
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
	for _, name := range names {
		if reason := checkPeriod(c, name, s.Periods[name]); reason != "" {
			errs = append(errs, &lethe.FieldError{Field: "periods." + name, Reason: reason})
		}
	}
	for i, k := range s.DropMetadata {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, &lethe.FieldError{
				Field:  fmt.Sprintf("drop_metadata[%d]", i),
				Reason: "metadata key must not be empty",
			})
		}
	}
	if n := utf8.RuneCountInString(s.Placeholder); n > MaxPlaceholder {
		errs = append(errs, &lethe.FieldError{
			Field:  "placeholder",
			Reason: fmt.Sprintf("placeholder is %d characters long; at most %d are allowed", n, MaxPlaceholder),
		})
	}
	return errors.Join(errs...)
}

// checkPeriod returns why the period d may not be chosen for the rule
// called name, or "" when it may. Periods are compared by length, so 1y
// and 365d are the same choice.
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
	if !p.Max.IsZero() && d.D() > p.Max.D() {
		return fmt.Sprintf("period %s is above the maximum %s", d, p.Max)
	}
	allowed := allowedPeriods(p)
	for _, a := range allowed {
		if a.D() == d.D() {
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
	slices.SortStableFunc(all, func(a, b lethe.Duration) int {
		switch {
		case a.D() < b.D():
			return -1
		case a.D() > b.D():
			return 1
		}
		return 0
	})
	out := all[:0]
	for _, d := range all {
		if !p.Max.IsZero() && d.D() > p.Max.D() {
			continue
		}
		if len(out) > 0 && out[len(out)-1].D() == d.D() {
			continue
		}
		out = append(out, d)
	}
	return out
}
