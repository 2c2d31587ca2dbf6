package audit

import (
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

const day = 24 * time.Hour

// Retention is how long each log keeps its entries (seed 000, C4).
type Retention struct {
	Runtime  time.Duration // 7 or 30 days
	Manager  time.Duration
	Security time.Duration
}

// DefaultRetention is C4's: runtime 7 days, manager 180, security 365.
var DefaultRetention = Retention{Runtime: 7 * day, Manager: 180 * day, Security: 365 * day}

// WithDefaults fills zero periods with DefaultRetention's.
func (r Retention) WithDefaults() Retention {
	if r.Runtime == 0 {
		r.Runtime = DefaultRetention.Runtime
	}
	if r.Manager == 0 {
		r.Manager = DefaultRetention.Manager
	}
	if r.Security == 0 {
		r.Security = DefaultRetention.Security
	}
	return r
}

// Validate checks the periods: the runtime log keeps 7 or 30 days (the
// two options C4 offers), the others at least a day.
func (r Retention) Validate() error {
	if r.Runtime != 7*day && r.Runtime != 30*day {
		return &lethe.FieldError{Field: "audit_retention.runtime", Reason: "want 7d or 30d"}
	}
	if r.Manager < day {
		return &lethe.FieldError{Field: "audit_retention.manager", Reason: "want at least 1d"}
	}
	if r.Security < day {
		return &lethe.FieldError{Field: "audit_retention.security", Reason: "want at least 1d"}
	}
	return nil
}

// For returns the period of a log.
func (r Retention) For(log lethe.Log) (time.Duration, error) {
	switch log {
	case lethe.LogRuntime:
		return r.Runtime, nil
	case lethe.LogManager:
		return r.Manager, nil
	case lethe.LogSecurity:
		return r.Security, nil
	}
	return 0, fmt.Errorf("%w: unknown log %q", lethe.ErrInvalid, log)
}
