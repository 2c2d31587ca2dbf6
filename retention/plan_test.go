package retention

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

const day = 24 * time.Hour

func planEqual(t *testing.T, got, want lethe.Plan) {
	t.Helper()
	if got.Action != want.Action || got.Rule != want.Rule || !got.DueAt.Equal(want.DueAt) {
		t.Errorf("Plan = {%s %s %v}, want {%s %s %v}", got.Action, got.Rule, got.DueAt, want.Action, want.Rule, want.DueAt)
	}
}

func TestPlan_CreatedAtBasisUsesDefaultOrChosenPeriod(t *testing.T) {
	c := messagesCollection()
	tests := []struct {
		name string
		s    *lethe.Settings
		want lethe.Plan
	}{
		{"no settings", nil, lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
		{"settings without periods", &lethe.Settings{Placeholder: "x"}, lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
		{"chosen 7d", &lethe.Settings{Periods: map[string]lethe.Duration{"anonymize": dur("7d")}}, lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(7 * day)}},
		{"chosen delete 1y before anonymize 2y", &lethe.Settings{Periods: map[string]lethe.Duration{"anonymize": dur("2y"), "delete": dur("1y")}},
			lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.AddDate(1, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planEqual(t, Plan(c, tt.s, Input{CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive}), tt.want)
		})
	}
}

func TestPlan_AmazonOrderDueThirtyDaysAfterShipment(t *testing.T) {
	c := orderCollection()
	shipped := t0.Add(3 * day)
	deleteIn10y := lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.AddDate(10, 0, 0)}
	anonAfterShipping := lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize_amazon", DueAt: shipped.Add(30 * day)}
	tests := []struct {
		name   string
		origin string
		plain  map[string]any
		want   lethe.Plan
	}{
		{"amazon, not shipped yet", "amazon", map[string]any{"belegnr": "A-1"}, deleteIn10y},
		{"amazon, shipped_at null", "amazon", map[string]any{"shipped_at": nil}, deleteIn10y},
		{"amazon, shipped_at unparsable", "amazon", map[string]any{"shipped_at": "yesterday"}, deleteIn10y},
		{"amazon, shipped (RFC 3339 string)", "amazon", map[string]any{"shipped_at": shipped.Format(time.RFC3339)}, anonAfterShipping},
		{"amazon, shipped (RFC 3339 nano string)", "amazon", map[string]any{"shipped_at": shipped.Add(5 * time.Millisecond).Format(time.RFC3339Nano)},
			lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize_amazon", DueAt: shipped.Add(30*day + 5*time.Millisecond)}},
		{"amazon, shipped (time.Time)", "amazon", map[string]any{"shipped_at": shipped}, anonAfterShipping},
		{"origin matched case-insensitively", "Amazon", map[string]any{"shipped_at": shipped.Format(time.RFC3339)}, anonAfterShipping},
		{"other origin, shipped", "otto", map[string]any{"shipped_at": shipped.Format(time.RFC3339)}, deleteIn10y},
		{"no origin, shipped", "", map[string]any{"shipped_at": shipped.Format(time.RFC3339)}, deleteIn10y},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(c, nil, Input{Origin: tt.origin, CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive, Plain: tt.plain})
			planEqual(t, got, tt.want)
		})
	}
}

func TestPlan_ShipmentBasisAbsentMeansNoPlan(t *testing.T) {
	c := &policy.Collection{Rules: []*policy.Rule{
		{Action: lethe.ActionAnonymize, Basis: "shipped_at", Period: policy.Period{Default: dur("30d")}},
	}}
	planEqual(t, Plan(c, nil, Input{CreatedAt: t0}), lethe.Plan{})
	shipped := t0.Add(day)
	planEqual(t, Plan(c, nil, Input{CreatedAt: t0, Plain: map[string]any{"shipped_at": shipped.Format(time.RFC3339)}}),
		lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: shipped.Add(30 * day)})
}

func TestPlan_DateBasisCountsFromMidnightUTC(t *testing.T) {
	c := &policy.Collection{Rules: []*policy.Rule{
		{Action: lethe.ActionDelete, Basis: "datum", Period: policy.Period{Default: dur("30d")}},
	}}
	midnight := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		datum any
		want  lethe.Plan
	}{
		{"date", "2026-11-18", lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: midnight.Add(30 * day)}},
		{"leap day", "2028-02-29", lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: time.Date(2028, 3, 30, 0, 0, 0, 0, time.UTC)}},
		{"timestamp in the same field still read", "2026-11-18T15:00:00Z", lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: midnight.Add(30*day + 15*time.Hour)}},
		{"day that does not exist", "2026-02-30", lethe.Plan{}},
		{"date without zero padding", "2026-1-8", lethe.Plan{}},
		{"date with a zone is no date", "2026-11-18+01:00", lethe.Plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(c, nil, Input{CreatedAt: t0, Plain: map[string]any{"datum": tt.datum}})
			planEqual(t, got, tt.want)
		})
	}
}

func TestPlan_AnonymizedRecordMovesOnToItsDeleteRule(t *testing.T) {
	c := messagesCollection()
	tests := []struct {
		state lethe.State
		want  lethe.Plan
	}{
		{lethe.StateActive, lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
		{"", lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
		{lethe.StateAnonymized, lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.AddDate(3, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			planEqual(t, Plan(c, nil, Input{CreatedAt: t0, State: tt.state}), tt.want)
		})
	}
}

func TestPlan_DeleteWinsATie(t *testing.T) {
	for _, order := range []string{"anonymize first", "delete first"} {
		t.Run(order, func(t *testing.T) {
			anon := &policy.Rule{Action: lethe.ActionAnonymize, Basis: "created_at", Period: policy.Period{Default: dur("30d")}}
			del := &policy.Rule{Action: lethe.ActionDelete, Basis: "created_at", Period: policy.Period{Default: dur("720h")}}
			c := &policy.Collection{Rules: []*policy.Rule{anon, del}}
			if order == "delete first" {
				c.Rules = []*policy.Rule{del, anon}
			}
			planEqual(t, Plan(c, nil, Input{CreatedAt: t0}), lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.Add(30 * day)})
		})
	}
}

// The planner returns the due time; the sweeper treats a record as due once
// the due time is not after now. One second either side of the period must
// fall on the right side.
func TestPlan_RecordJustInsideItsPeriodIsNotDue(t *testing.T) {
	c := messagesCollection()
	p := Plan(c, nil, Input{CreatedAt: t0})
	tests := []struct {
		name    string
		now     time.Time
		wantDue bool
	}{
		{"one second inside", t0.Add(30*day - time.Second), false},
		{"exactly at the end", t0.Add(30 * day), true},
		{"one second past", t0.Add(30*day + time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if due := !p.DueAt.After(tt.now); due != tt.wantDue {
				t.Errorf("due at %v with DueAt %v = %v, want %v", tt.now, p.DueAt, due, tt.wantDue)
			}
		})
	}
}

func TestPlan_EarliestOfTwoDeleteRulesWins(t *testing.T) {
	// A voucher-like collection: deleted on receipt, at the latest a week
	// after creation.
	c := &policy.Collection{Rules: []*policy.Rule{
		{Name: "on_receipt", Action: lethe.ActionDelete, Basis: "received_at", Period: policy.Period{Default: dur("0d")}},
		{Name: "week", Action: lethe.ActionDelete, Basis: "created_at", Period: policy.Period{Default: dur("7d")}},
	}}
	tests := []struct {
		name  string
		plain map[string]any
		want  lethe.Plan
	}{
		{"not received", nil, lethe.Plan{Action: lethe.ActionDelete, Rule: "week", DueAt: t0.Add(7 * day)}},
		{"received after a day", map[string]any{"received_at": t0.Add(day).Format(time.RFC3339)},
			lethe.Plan{Action: lethe.ActionDelete, Rule: "on_receipt", DueAt: t0.Add(day)}},
		{"received after ten days", map[string]any{"received_at": t0.Add(10 * day).Format(time.RFC3339)},
			lethe.Plan{Action: lethe.ActionDelete, Rule: "week", DueAt: t0.Add(7 * day)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planEqual(t, Plan(c, nil, Input{CreatedAt: t0, Plain: tt.plain}), tt.want)
		})
	}
}

func TestPlan_ConditionOnPresentField(t *testing.T) {
	c := &policy.Collection{Rules: []*policy.Rule{
		{Action: lethe.ActionDelete, Basis: "updated_at", Period: policy.Period{Default: dur("1d")},
			When: &policy.Condition{Present: []string{"email"}}},
	}}
	want := lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.Add(2 * day)}
	tests := []struct {
		name string
		in   Input
		want lethe.Plan
	}{
		{"absent in plain", Input{Plain: map[string]any{}}, lethe.Plan{}},
		{"empty in plain", Input{Plain: map[string]any{"email": ""}}, lethe.Plan{}},
		{"set in plain", Input{Plain: map[string]any{"email": "a@b.c"}}, want},
		{"sealed field reported by Has", Input{Has: func(f string) bool { return f == "email" }}, want},
		{"Has says unset", Input{Plain: map[string]any{"email": "a@b.c"}, Has: func(string) bool { return false }}, lethe.Plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.CreatedAt, tt.in.UpdatedAt = t0, t0.Add(day)
			planEqual(t, Plan(c, nil, tt.in), tt.want)
		})
	}
}

func holdCollection() *policy.Collection {
	return &policy.Collection{Rules: []*policy.Rule{
		{Action: lethe.ActionAnonymize, Basis: "created_at", Period: policy.Period{Default: dur("30d")}},
		{Action: lethe.ActionDelete, Basis: "created_at", Period: policy.Period{Default: dur("1y")}},
		{Name: "invoicing", Action: lethe.ActionHold, Basis: "invoiced_at", Period: policy.Period{Default: dur("10y")},
			Reason: "invoices are kept 10 years (AO, UStG, HGB)"},
	}}
}

func TestPlan_LegalHoldPostponesTheAction(t *testing.T) {
	c := holdCollection()
	invoiced := t0.Add(2 * day)
	holdEnd := invoiced.AddDate(10, 0, 0)
	tests := []struct {
		name  string
		state lethe.State
		plain map[string]any
		want  lethe.Plan
	}{
		{"no invoice: no hold", lethe.StateActive, nil, lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
		// Both actions fall due when the hold ends; deleting wins.
		{"invoiced: held for ten years", lethe.StateActive, map[string]any{"invoiced_at": invoiced.Format(time.RFC3339)},
			lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: holdEnd}},
		{"anonymized and invoiced", lethe.StateAnonymized, map[string]any{"invoiced_at": invoiced.Format(time.RFC3339)},
			lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: holdEnd}},
		{"hold ended long ago", lethe.StateActive, map[string]any{"invoiced_at": t0.AddDate(-20, 0, 0).Format(time.RFC3339)},
			lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(30 * day)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planEqual(t, Plan(c, nil, Input{CreatedAt: t0, State: tt.state, Plain: tt.plain}), tt.want)
		})
	}
}

func TestPlan_HoldOnlyDelaysWhatEndsBeforeIt(t *testing.T) {
	c := &policy.Collection{Rules: []*policy.Rule{
		{Action: lethe.ActionAnonymize, Basis: "created_at", Period: policy.Period{Default: dur("30d")}},
		{Action: lethe.ActionDelete, Basis: "created_at", Period: policy.Period{Default: dur("3y")}},
		{Action: lethe.ActionHold, Basis: "created_at", Period: policy.Period{Default: dur("60d")}},
	}}
	planEqual(t, Plan(c, nil, Input{CreatedAt: t0, State: lethe.StateActive}),
		lethe.Plan{Action: lethe.ActionAnonymize, Rule: "anonymize", DueAt: t0.Add(60 * day)})
	planEqual(t, Plan(c, nil, Input{CreatedAt: t0, State: lethe.StateAnonymized}),
		lethe.Plan{Action: lethe.ActionDelete, Rule: "delete", DueAt: t0.AddDate(3, 0, 0)})
}

func TestPlan_NothingApplicableGivesZeroPlan(t *testing.T) {
	tests := []struct {
		name string
		c    *policy.Collection
		in   Input
	}{
		{"no rules", &policy.Collection{}, Input{CreatedAt: t0}},
		{"only a hold", &policy.Collection{Rules: []*policy.Rule{{Action: lethe.ActionHold, Period: policy.Period{Default: dur("10y")}}}}, Input{CreatedAt: t0}},
		{"only anonymize, already anonymized", &policy.Collection{Rules: []*policy.Rule{{Action: lethe.ActionAnonymize, Basis: "created_at", Period: policy.Period{Default: dur("1d")}}}},
			Input{CreatedAt: t0, State: lethe.StateAnonymized}},
		{"zero created_at", messagesCollection(), Input{}},
		{"origin does not match", orderCollection(), Input{Origin: "otto", Plain: map[string]any{"shipped_at": t0.Format(time.RFC3339)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan(tt.c, nil, tt.in)
			if p != (lethe.Plan{}) || p.Planned() {
				t.Errorf("Plan = %+v, want zero", p)
			}
		})
	}
}

func TestHold_KeepsRecordUntilTheHoldEnds(t *testing.T) {
	c := holdCollection()
	invoiced := t0.Add(2 * day)
	end := invoiced.AddDate(10, 0, 0)
	in := Input{CreatedAt: t0, Plain: map[string]any{"invoiced_at": invoiced.Format(time.RFC3339)}}
	tests := []struct {
		name      string
		in        Input
		now       time.Time
		wantHeld  bool
		wantUntil time.Time
	}{
		{"no invoice", Input{CreatedAt: t0}, t0, false, time.Time{}},
		{"during the hold", in, t0.Add(400 * day), true, end},
		{"one second before the end", in, end.Add(-time.Second), true, end},
		{"at the end", in, end, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, until, reason := Hold(c, nil, tt.in, tt.now)
			if held != tt.wantHeld || !until.Equal(tt.wantUntil) {
				t.Fatalf("Hold = %v, %v, want %v, %v", held, until, tt.wantHeld, tt.wantUntil)
			}
			if held && reason != "invoices are kept 10 years (AO, UStG, HGB)" {
				t.Errorf("reason = %q", reason)
			}
			if !held && reason != "" {
				t.Errorf("reason = %q, want empty when not held", reason)
			}
		})
	}
}

func TestHold_LatestOfSeveralHoldsAndDefaultReason(t *testing.T) {
	c := &policy.Collection{Rules: []*policy.Rule{
		{Name: "short", Action: lethe.ActionHold, Basis: "created_at", Period: policy.Period{Default: dur("1y")}, Reason: "short"},
		{Name: "tax", Action: lethe.ActionHold, Basis: "created_at", Period: policy.Period{Default: dur("6y")}},
		{Name: "origin", Action: lethe.ActionHold, Basis: "created_at", Period: policy.Period{Default: dur("20y")},
			When: &policy.Condition{Origin: []string{"court"}}},
	}}
	held, until, reason := Hold(c, nil, Input{CreatedAt: t0}, t0)
	if !held || !until.Equal(t0.AddDate(6, 0, 0)) || reason != "legal hold tax" {
		t.Errorf("Hold = %v, %v, %q", held, until, reason)
	}
	s := &lethe.Settings{Periods: map[string]lethe.Duration{"tax": dur("2y")}}
	_, until, _ = Hold(c, s, Input{CreatedAt: t0}, t0)
	if !until.Equal(t0.AddDate(2, 0, 0)) {
		t.Errorf("with a chosen period, until = %v", until)
	}
}

func TestPeriod_TenantChoiceElseDefault(t *testing.T) {
	r := &policy.Rule{Action: lethe.ActionDelete, Period: policy.Period{Default: dur("30d")}}
	named := &policy.Rule{Name: "purge", Action: lethe.ActionDelete, Period: policy.Period{Default: dur("30d")}}
	s := &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("7d")}}
	tests := []struct {
		name string
		r    *policy.Rule
		s    *lethe.Settings
		want lethe.Duration
	}{
		{"nil settings", r, nil, dur("30d")},
		{"chosen by action name", r, s, dur("7d")},
		{"named rule not chosen", named, s, dur("30d")},
		{"chosen zero", r, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("0d")}}, dur("0d")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Period(tt.r, tt.s); got != tt.want {
				t.Errorf("Period = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	c := orderCollection()
	s := &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("10y")}}
	in := Input{Origin: "amazon", CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive,
		Plain: map[string]any{"belegnr": "A-1", "shipped_at": "2024-03-04T10:00:00Z"}}
	b.ReportAllocs()
	for b.Loop() {
		if !Plan(c, s, in).Planned() {
			b.Fatal("no plan")
		}
	}
}
