package retention

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// TestPlan_TenYearsAreCalendarYears: the legal retention of an invoice
// counts calendar years, so an invoice of 2026-03-15 may go on 2036-03-15
// (3,653 days later, across the February 29s of 2028 and 2032), not
// 3,650 days later on 2036-03-12.
func TestPlan_TenYearsAreCalendarYears(t *testing.T) {
	c := &policy.Collection{Name: "invoices", Rules: []*policy.Rule{
		{Action: lethe.ActionDelete, Basis: BasisCreatedAt, Period: policy.Period{Default: dur("10y")}},
	}}
	tests := []struct {
		created, due string
	}{
		{"2026-03-15T10:00:00Z", "2036-03-15T10:00:00Z"},
		{"2028-02-29T10:00:00Z", "2038-02-28T10:00:00Z"},
		{"2024-02-29T00:00:00Z", "2034-02-28T00:00:00Z"},
		{"2032-02-29T23:59:59Z", "2042-02-28T23:59:59Z"},
	}
	for _, tt := range tests {
		t.Run(tt.created, func(t *testing.T) {
			created, _ := time.Parse(time.RFC3339, tt.created)
			due, _ := time.Parse(time.RFC3339, tt.due)
			p := Plan(c, nil, Input{CreatedAt: created, UpdatedAt: created})
			if p.Action != lethe.ActionDelete || !p.DueAt.Equal(due) {
				t.Fatalf("Plan = %v %v, want delete at %v", p.Action, p.DueAt, due)
			}
		})
	}
	created := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	if got := Plan(c, nil, Input{CreatedAt: created}).DueAt.Sub(created); got != 3653*24*time.Hour {
		t.Errorf("10y from %v is %v, want 3653 days", created, got)
	}
}

// TestValidateSettings_PackDefaultsAreValidChoices: a tenant who writes
// down every default of a pack explicitly is not refused, so the checks
// of ValidateSettings (anonymize before delete above all) agree with the
// packs as shipped.
func TestValidateSettings_PackDefaultsAreValidChoices(t *testing.T) {
	for _, name := range policy.PackNames() {
		p, err := policy.Pack(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Collections {
			s := &lethe.Settings{Periods: map[string]lethe.Duration{}}
			for _, r := range c.Rules {
				s.Periods[RuleName(r)] = r.Period.Default
			}
			if err := ValidateSettings(c, s); err != nil {
				t.Errorf("%s/%s: defaults refused: %v", name, c.Name, err)
			}
		}
	}
}
