package retention

import (
	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// AllowedPeriods lists the periods a tenant may choose for the rule,
// shortest first: what a settings page offers, so that it never needs a
// free field and offers nothing ValidateSettings would refuse.
func AllowedPeriods(r *policy.Rule) []lethe.Duration {
	return allowedPeriods(r.Period)
}
