package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

// ruleCase is one delete or anonymize rule of a pack, as the sweep test
// walks them.
type ruleCase struct {
	pack string
	coll *policy.Collection
	rule *policy.Rule
}

func (rc ruleCase) name() string {
	return rc.pack + "/" + rc.coll.Name + "/" + retention.RuleName(rc.rule)
}

// packRules lists every delete and anonymize rule of the test packs.
func packRules(t *testing.T) []ruleCase {
	t.Helper()
	var out []ruleCase
	for _, pack := range testPacks {
		for _, c := range mustPack(t, pack).Collections {
			for _, r := range c.Rules {
				if r.Action == lethe.ActionDelete || r.Action == lethe.ActionAnonymize {
					out = append(out, ruleCase{pack: pack, coll: c, rule: r})
				}
			}
		}
	}
	return out
}

// TestSweep_EveryRuleOfEveryPack builds, for every delete and anonymize
// rule of every pack, a record the rule applies to, and checks that the
// sweep leaves it alone one second before the rule's due time and acts one
// second after it. The due time is computed here from the policy, not read
// from the engine's plan.
func TestSweep_EveryRuleOfEveryPack(t *testing.T) {
	// Rules that cannot be observed this way, by pack/collection/rule, with
	// the reason. None today: where another rule of the collection fires
	// first (conversations: anonymize before delete), the delete is still
	// observable, because an anonymized record stays readable.
	exceptions := map[string]string{}

	cases := packRules(t)
	if len(cases) < 30 {
		t.Fatalf("found %d rules in the packs; the packs have more than 30", len(cases))
	}
	for _, rc := range cases {
		t.Run(rc.name(), func(t *testing.T) {
			if why, ok := exceptions[rc.name()]; ok {
				t.Skip(why)
			}
			e := newTestEnv(t, 0)
			e.tenant("t1", rc.pack)
			e.enableAll("t1")

			// Every field set; timestamps far in the future unless the
			// rule counts from them.
			fields := sampleFields(rc.coll, testStart.Add(farFuture), 1)
			origin := ""
			if w := rc.rule.When; w != nil {
				if len(w.Origin) > 0 {
					origin = w.Origin[0]
				}
				for _, f := range w.Present {
					if _, ok := fields[f]; !ok {
						t.Fatalf("rule needs field %s, which sampleFields did not set", f)
					}
				}
			}
			var basis time.Time
			switch rc.rule.Basis {
			case "", retention.BasisCreatedAt, retention.BasisUpdatedAt:
				// Created and last written at testStart, the clock now.
				basis = testStart
			default:
				basis = testStart.Add(time.Hour)
				fields[rc.rule.Basis] = basis.Format(time.RFC3339)
			}
			due := retention.Period(rc.rule, &lethe.Settings{}).After(basis)

			e.clock.Set(testStart)
			e.put("t1", rc.coll.Name, engine.NewRecord{ID: "rec-1", Origin: origin, CreatedAt: testStart, Fields: fields})

			e.sweepAt(due.Add(-time.Second))
			d := e.get("t1", rc.coll.Name, "rec-1")
			if rc.rule.Action == lethe.ActionAnonymize && d.State != lethe.StateActive {
				t.Fatalf("one second before %s: state %s, want active", due, d.State)
			}

			e.sweepAt(due.Add(time.Second))
			switch rc.rule.Action {
			case lethe.ActionDelete:
				e.gone("t1", rc.coll.Name, "rec-1")
			case lethe.ActionAnonymize:
				if d := e.get("t1", rc.coll.Name, "rec-1"); d.State != lethe.StateAnonymized {
					t.Fatalf("one second after %s: state %s, want anonymized", due, d.State)
				}
			}
		})
	}
}

// TestSweep_ChainedRulesAnonymizeThenDelete follows a conversation message
// through both of its rules: anonymized after 30 days, kept so, deleted
// after a year; and a sweep that runs late for both does both at once.
func TestSweep_ChainedRulesAnonymizeThenDelete(t *testing.T) {
	anonAt := testStart.Add(30 * 24 * time.Hour)
	deleteAt := testStart.Add(365 * 24 * time.Hour)
	type step struct {
		at        time.Time
		wantState lethe.State // "" means deleted
		wantAnon  int64
		wantDel   int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"stepwise", []step{
			{anonAt.Add(-time.Second), lethe.StateActive, 0, 0},
			{anonAt.Add(time.Second), lethe.StateAnonymized, 1, 0},
			{deleteAt.Add(-time.Second), lethe.StateAnonymized, 0, 0},
			{deleteAt.Add(time.Second), "", 0, 1},
		}},
		{"one late sweep", []step{
			{deleteAt.Add(time.Second), "", 1, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, 0)
			e.tenant("bot", "conversations")
			e.put("bot", "messages", engine.NewRecord{ID: "m1", CreatedAt: testStart, Fields: map[string]any{
				"session_id": "s1", "sender": "user", "text": "Ik ben Jan, 0470 12 34 56", "intent": "greeting",
			}})
			for _, st := range tt.steps {
				res := e.sweepAt(st.at)
				if res.Anonymized != st.wantAnon || res.Deleted != st.wantDel {
					t.Errorf("sweep at %s: anonymized %d, deleted %d; want %d, %d",
						st.at.Format(time.DateOnly), res.Anonymized, res.Deleted, st.wantAnon, st.wantDel)
				}
				if st.wantState == "" {
					e.gone("bot", "messages", "m1")
					continue
				}
				d := e.get("bot", "messages", "m1")
				if d.State != st.wantState {
					t.Fatalf("after sweep at %s: state %s, want %s", st.at.Format(time.DateOnly), d.State, st.wantState)
				}
				if st.wantState == lethe.StateAnonymized {
					if d.Fields["text"] != "This message has been deleted" || d.Fields["intent"] != "greeting" {
						t.Errorf("anonymized message fields = %v", d.Fields)
					}
					if d.Plan.Action != lethe.ActionDelete || !d.Plan.DueAt.Equal(deleteAt) {
						t.Errorf("anonymized message plan = %+v, want delete at %s", d.Plan, deleteAt)
					}
				}
			}
		})
	}
}

// TestSettings_ChangeReplansRecords shortens a rule's period and checks
// that stored records are re-planned and the sweep acts at the new time;
// that a period outside the options is refused with the options named;
// and that the change is audited.
func TestSettings_ChangeReplansRecords(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("bot", "conversations")
	ids := []string{"m1", "m2", "m3"}
	for _, id := range ids {
		d := e.put("bot", "messages", engine.NewRecord{ID: id, CreatedAt: testStart, Fields: map[string]any{"text": "hallo", "intent": "greeting"}})
		if want := testStart.Add(30 * 24 * time.Hour); d.Plan.Action != lethe.ActionAnonymize || !d.Plan.DueAt.Equal(want) {
			t.Fatalf("plan with the default period = %+v, want anonymize at %s", d.Plan, want)
		}
	}
	// A record of another collection must keep its plan.
	other := e.put("bot", "sessions", engine.NewRecord{ID: "s1", CreatedAt: testStart, Fields: map[string]any{"conversation_id": "c-1", "last_activity_at": testStart.Format(time.RFC3339)}})

	if _, err := e.eng.PutSettings(e.ctx, "admin", "bot", "messages", &lethe.Settings{
		Periods: map[string]lethe.Duration{"anonymize": lethe.MustDuration("7d")},
	}); err != nil {
		t.Fatal(err)
	}
	st := e.waitReplan("bot", "messages")
	if st.Scanned != 3 || st.Changed != 3 {
		t.Errorf("replan status = %+v, want 3 scanned and 3 changed", st)
	}
	newDue := testStart.Add(7 * 24 * time.Hour)
	for _, id := range ids {
		if d := e.get("bot", "messages", id); d.Plan.Action != lethe.ActionAnonymize || !d.Plan.DueAt.Equal(newDue) {
			t.Errorf("%s: plan after the change = %+v, want anonymize at %s", id, d.Plan, newDue)
		}
	}
	if d := e.get("bot", "sessions", "s1"); !d.Plan.DueAt.Equal(other.Plan.DueAt) {
		t.Errorf("session plan moved from %s to %s by a messages setting", other.Plan.DueAt, d.Plan.DueAt)
	}

	if res := e.sweepAt(newDue.Add(-time.Second)); res.Anonymized != 0 {
		t.Errorf("sweep one second before the new due time anonymized %d", res.Anonymized)
	}
	if res := e.sweepAt(newDue.Add(time.Second)); res.Anonymized != 3 {
		t.Errorf("sweep one second after the new due time anonymized %d, want 3", res.Anonymized)
	}
	for _, id := range ids {
		if d := e.get("bot", "messages", id); d.State != lethe.StateAnonymized {
			t.Errorf("%s: state %s, want anonymized", id, d.State)
		}
	}

	t.Run("refused periods", func(t *testing.T) {
		tests := []struct {
			name    string
			periods map[string]lethe.Duration
			want    []string // parts of the message
		}{
			{"not an option", map[string]lethe.Duration{"anonymize": lethe.MustDuration("5d")},
				[]string{"periods.anonymize", "1d, 7d, 30d, 90d, 180d, 1y, 2y, 3y"}},
			{"above the maximum", map[string]lethe.Duration{"delete": lethe.MustDuration("4y")},
				[]string{"periods.delete", "maximum 3y"}},
			{"unknown rule", map[string]lethe.Duration{"purge": lethe.MustDuration("7d")},
				[]string{"periods.purge", "anonymize, delete"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.eng.PutSettings(e.ctx, "admin", "bot", "messages", &lethe.Settings{Periods: tt.periods})
				if !errors.Is(err, lethe.ErrInvalid) {
					t.Fatalf("err = %v, want lethe.ErrInvalid", err)
				}
				var fe *lethe.FieldError
				if !errors.As(err, &fe) {
					t.Errorf("err = %v, want a *lethe.FieldError in it", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q, want it to name %q", err, w)
					}
				}
			})
		}
		s, err := e.eng.Settings(e.ctx, "bot", "messages")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Periods["anonymize"]; !got.Same(lethe.MustDuration("7d")) || len(s.Periods) != 1 {
			t.Errorf("settings after refused changes = %v, want the 7d choice only", s.Periods)
		}
	})

	t.Run("audited", func(t *testing.T) {
		entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "bot", Log: lethe.LogSecurity, Event: "settings.update"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("%d settings.update entries, want 1 (refused changes are not recorded)", len(entries))
		}
		var data struct {
			Collection string          `json:"collection"`
			Settings   *lethe.Settings `json:"settings"`
		}
		if err := json.Unmarshal(entries[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if entries[0].Actor != "admin" || data.Collection != "messages" || data.Settings == nil || data.Settings.Periods["anonymize"].String() != "7d" {
			t.Errorf("audit entry actor %q data %s", entries[0].Actor, entries[0].Data)
		}
	})
}

// TestSweep_DryRunPlanSummaryPredictsSweep checks G3: the plan summary up
// to T counts exactly what a sweep at T then does, per collection and
// action, and reading it changes nothing.
//
// The records are chosen so that no record has two actions due by T: the
// summary shows each record's next action only, so a message whose
// anonymization and deletion both fall before T is counted once while the
// sweep does both.
func TestSweep_DryRunPlanSummaryPredictsSweep(t *testing.T) {
	e := newTestEnv(t, 4)
	e.tenant("t1", "chatbot", "conversations")
	e.tenant("t2", "chatbot")
	day := 24 * time.Hour
	T := testStart.Add(5 * day)

	type batch struct {
		tenant, coll string
		created      time.Time
		fields       map[string]any
		n            int
	}
	msg := map[string]any{"text": "hi", "intent": "greeting"}
	puts := []batch{
		{"t1", "live_chat_messages", testStart.Add(-3 * day), map[string]any{"message": "a"}, 3},                          // due C+4d
		{"t1", "live_chat_messages", T.Add(-7 * day), map[string]any{"message": "edge"}, 1},                               // due exactly T
		{"t1", "live_chat_messages", T.Add(-7*day + time.Second), map[string]any{"message": "b"}, 2},                      // due T+1s
		{"t1", "runtime_log", testStart.Add(-5 * day), map[string]any{"event": "auth_fail", "email": "a@example.com"}, 2}, // due C+2d
		{"t1", "runtime_log", testStart, map[string]any{"event": "auth_pass"}, 1},                                         // due C+7d
		{"t1", "manager_log", testStart, map[string]any{"action": "export"}, 2},                                           // 180d
		{"t1", "messages", testStart.Add(-27 * day), msg, 5},                                                              // anonymize C+3d, delete C+338d
		{"t1", "messages", testStart, msg, 2},                                                                             // anonymize C+30d
		{"t1", "sessions", testStart.Add(-28 * day), map[string]any{"conversation_id": "c", "last_activity_at": testStart.Format(time.RFC3339)}, 2},
		{"t1", "contexts", testStart, map[string]any{"session_id": "s"}, 3}, // updated_at + 1h
		{"t2", "automated_chat_messages", testStart, map[string]any{"message": "x"}, 4},
	}
	for _, b := range puts {
		for i := 0; i < b.n; i++ {
			e.put(b.tenant, b.coll, engine.NewRecord{CreatedAt: b.created, Fields: b.fields})
		}
	}
	collections := []string{"live_chat_messages", "runtime_log", "manager_log", "messages", "sessions", "contexts", "automated_chat_messages"}
	snapshot := func() map[string]string {
		sums := map[string]string{}
		for _, tn := range []string{"t1", "t2"} {
			for _, c := range collections {
				for _, r := range e.rows(tn, c) {
					sums[tn+"/"+c+"/"+r.ID] = rowSum(t, r)
				}
			}
		}
		return sums
	}

	before := snapshot()
	summary, err := e.eng.PlanSummary(e.ctx, "t1", T)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.eng.PlanSummary(e.ctx, "t1", T)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(summary, again); diff != "" {
		t.Errorf("a second dry run differs (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot()); diff != "" {
		t.Fatalf("the dry run changed stored records (-before +after):\n%s", diff)
	}

	predicted := map[string]int64{}
	for _, b := range summary {
		if b.Day > T.Format(time.DateOnly) {
			t.Errorf("bucket %+v lies after %s", b, T)
		}
		predicted[b.Collection+"/"+string(b.Action)] += b.Count
	}
	want := map[string]int64{
		"live_chat_messages/delete": 4,
		"runtime_log/delete":        2,
		"messages/anonymize":        5,
		"sessions/anonymize":        2,
		"contexts/delete":           3,
	}
	if diff := cmp.Diff(want, predicted); diff != "" {
		t.Errorf("dry run up to T (-want +got):\n%s", diff)
	}

	res := e.sweepAt(T)
	done := map[string]int64{}
	for _, c := range res.Counts {
		if c.Tenant == "t1" {
			done[c.Collection+"/"+string(c.Action)] += c.Count
		}
	}
	if diff := cmp.Diff(predicted, done); diff != "" {
		t.Errorf("sweep at T did not do what the dry run said (-dry run +sweep):\n%s", diff)
	}
	if after, err := e.eng.PlanSummary(e.ctx, "t1", T); err != nil || len(after) != 0 {
		t.Errorf("dry run after the sweep = %v, %v; want nothing left", after, err)
	}
}

// TestSweep_WritesOneAuditEntryPerBatchWithCounts checks that every sweep
// transaction records, per tenant it touched, one security-log entry with
// what it did per action and collection.
func TestSweep_WritesOneAuditEntryPerBatchWithCounts(t *testing.T) {
	type counts = map[string]map[string]int64 // action → collection → n
	day := 24 * time.Hour
	tests := []struct {
		name  string
		batch int
		// records of each tenant, due in this order; every one is due at
		// the sweep
		records map[string][]string // tenant → collection per record
		// the counts of the entries each tenant gets, in chain order
		want map[string][]counts
	}{
		{
			name:  "batches of three",
			batch: 3,
			records: map[string][]string{"t1": {
				"live_chat_messages", "live_chat_messages", "runtime_log",
				"live_chat_messages", "runtime_log", "runtime_log",
				"live_chat_messages",
			}},
			want: map[string][]counts{"t1": {
				{"delete": {"live_chat_messages": 2, "runtime_log": 1}},
				{"delete": {"live_chat_messages": 1, "runtime_log": 2}},
				{"delete": {"live_chat_messages": 1}},
			}},
		},
		{
			name:  "two tenants in one batch",
			batch: 100,
			records: map[string][]string{
				"t1": {"live_chat_messages", "live_chat_messages", "messages"},
				"t2": {"runtime_log"},
			},
			want: map[string][]counts{
				"t1": {{"delete": {"live_chat_messages": 2}, "anonymize": {"messages": 1}}},
				"t2": {{"delete": {"runtime_log": 1}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, tt.batch)
			var total int64
			for _, tn := range []string{"t1", "t2"} {
				e.tenant(tn, "chatbot", "conversations")
				for i, c := range tt.records[tn] {
					// Older first, one minute apart: the sweep takes the
					// oldest due first, so batches cut the list in order.
					created := testStart.Add(-40*day + time.Duration(i)*time.Minute)
					e.put(tn, c, engine.NewRecord{CreatedAt: created, Fields: map[string]any{}})
					total++
				}
			}
			res := e.sweepAt(testStart)
			if res.Deleted+res.Anonymized != total {
				t.Fatalf("sweep did %d deletes and %d anonymizations, want %d in all", res.Deleted, res.Anonymized, total)
			}
			for _, tn := range []string{"t1", "t2"} {
				entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: tn, Log: lethe.LogSecurity, Event: "sweep.batch"})
				if err != nil {
					t.Fatal(err)
				}
				var got []counts
				for _, en := range entries {
					if en.Actor != "sweeper" {
						t.Errorf("%s: entry actor %q, want sweeper", tn, en.Actor)
					}
					var data struct{ Counts counts }
					if err := json.Unmarshal(en.Data, &data); err != nil {
						t.Fatal(err)
					}
					got = append(got, data.Counts)
				}
				if diff := cmp.Diff(tt.want[tn], got); diff != "" {
					t.Errorf("%s: sweep.batch entries (-want +got):\n%s", tn, diff)
				}
			}
			// Nothing due: no transaction, no entry.
			e.sweepAt(testStart.Add(time.Hour))
			entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "t1", Log: lethe.LogSecurity, Event: "sweep.batch"})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tt.want["t1"]) {
				t.Errorf("an idle sweep wrote entries: %d, want %d", len(entries), len(tt.want["t1"]))
			}
		})
	}
}

// TestSweep_RecordsNotDueAreUntouched checksums the stored rows of records
// that are not due (plain fields, sealed envelopes, plan) before and after
// a sweep that acts on their neighbours.
func TestSweep_RecordsNotDueAreUntouched(t *testing.T) {
	e := newTestEnv(t, 2)
	e.tenant("t1", "chatbot", "conversations")
	e.enableAll("t1")
	day := 24 * time.Hour
	now := testStart.Add(10 * day)

	type rec struct {
		coll    string
		created time.Time
		due     bool
	}
	recs := []rec{
		{"live_chat_messages", testStart, true},                              // due C+7d
		{"live_chat_messages", now.Add(-7 * day), true},                      // due exactly now
		{"live_chat_messages", now.Add(-7*day + time.Second), false},         // due one second later
		{"live_chat_messages", testStart.Add(9 * day), false},                // due C+16d
		{"messages", testStart.Add(-25 * day), true},                         // anonymize C+5d
		{"messages", testStart, false},                                       // anonymize C+30d
		{"manager_log", testStart.Add(-100 * day), false},                    // 180d
		{"security_log", testStart.Add(-300 * day), false},                   // 365d
		{"variables", testStart, false},                                      // 60d
		{"voucher_codes", testStart.Add(-160 * day), false},                  // 180d: due C+20d
		{"push_subscriptions", testStart.Add(-700 * day), false},             // 720d
		{"nlu_messages", testStart.Add(-30*day + 10*day + time.Hour), false}, // 30d, due C+10d+1h
	}
	cols := map[string]*policy.Collection{}
	all, err := e.eng.Collections(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		cols[c.Name] = c
	}
	// Written at the sweep's time, so that every creation lies in the past.
	e.clock.Set(now)
	var dueIDs, keptIDs []lethe.RecordRef
	for i, r := range recs {
		fields := sampleFields(cols[r.coll], testStart.Add(farFuture), i)
		d := e.put("t1", r.coll, engine.NewRecord{ID: fmt.Sprintf("r%02d", i), CreatedAt: r.created, Fields: fields})
		ref := lethe.RecordRef{Tenant: "t1", Collection: r.coll, ID: d.ID}
		if r.due {
			dueIDs = append(dueIDs, ref)
		} else {
			keptIDs = append(keptIDs, ref)
		}
	}
	sums := func() map[lethe.RecordRef]string {
		out := map[lethe.RecordRef]string{}
		for _, c := range cols {
			for _, r := range e.rows("t1", c.Name) {
				out[r.Ref()] = rowSum(t, r)
			}
		}
		return out
	}
	before := sums()
	res := e.sweepAt(now)
	if res.Deleted != 2 || res.Anonymized != 1 {
		t.Errorf("sweep deleted %d and anonymized %d, want 2 and 1", res.Deleted, res.Anonymized)
	}
	after := sums()
	for _, ref := range keptIDs {
		if before[ref] == "" {
			t.Fatalf("%v was not stored", ref)
		}
		if before[ref] != after[ref] {
			t.Errorf("%v is not due but its stored row changed", ref)
		}
	}
	for _, ref := range dueIDs {
		if before[ref] == after[ref] {
			t.Errorf("%v was due but its stored row is unchanged", ref)
		}
	}
}

// TestSweep_EveryRecordIsDeletedInTheEnd writes, into every collection of
// every pack, a record with no optional field set (a client may omit
// them all) and checks that a sweep after the longest period leaves
// nothing: retention must not depend on a field the client may leave out.
func TestSweep_EveryRecordIsDeletedInTheEnd(t *testing.T) {
	// Collections whose records outlive every period when a field is left
	// out, by pack/collection, with the reason. These are gaps in the packs,
	// reported for a fix there; the test fails once a gap is closed, so
	// that its entry is removed.
	gaps := map[string]string{}
	const late = 20 * 365 * 24 * time.Hour // beyond every period and maximum of the packs
	for _, pack := range testPacks {
		t.Run(pack, func(t *testing.T) {
			e := newTestEnv(t, 0)
			e.tenant("t1", pack)
			e.enableAll("t1")
			p := mustPack(t, pack)
			for _, c := range p.Collections {
				// Only what the policy requires, at its earliest.
				fields := map[string]any{}
				for _, f := range c.Fields {
					if f.Required {
						fields[f.Name] = sampleValue(f, testStart, 1)
					}
				}
				e.put("t1", c.Name, engine.NewRecord{ID: "bare", CreatedAt: testStart, Fields: fields})
			}
			e.sweepAt(testStart.Add(late))
			for _, c := range p.Collections {
				name := pack + "/" + c.Name
				_, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: c.Name, ID: "bare"})
				gone := errors.Is(err, lethe.ErrNotFound)
				if err != nil && !gone {
					t.Fatal(err)
				}
				why, known := gaps[name]
				switch {
				case !gone && known:
					t.Logf("%s: known gap: %s", name, why)
				case !gone:
					t.Errorf("%s: a record with no optional fields is still there after %s", name, late)
				case known:
					t.Errorf("%s: the gap %q is closed; remove it from the list", name, why)
				}
			}
		})
	}
}

// TestSweep_LagReportsOverdueWork checks the sweep-lag figures: how many
// records are overdue and since when, and nothing once swept.
func TestSweep_LagReportsOverdueWork(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	day := 24 * time.Hour
	e.put("t1", "live_chat_messages", engine.NewRecord{CreatedAt: testStart.Add(-9 * day), Fields: map[string]any{}}) // due 2 days ago
	e.put("t1", "live_chat_messages", engine.NewRecord{CreatedAt: testStart.Add(-8 * day), Fields: map[string]any{}}) // due 1 day ago
	e.put("t1", "live_chat_messages", engine.NewRecord{CreatedAt: testStart, Fields: map[string]any{}})               // not due
	n, lag, err := e.eng.Lag(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || lag != 2*day {
		t.Errorf("lag = %d records, oldest %s; want 2, 48h", n, lag)
	}
	e.sweepAt(testStart)
	if n, lag, err := e.eng.Lag(e.ctx); err != nil || n != 0 || lag != 0 {
		t.Errorf("lag after the sweep = %d, %s, %v; want nothing", n, lag, err)
	}
}

// TestSweep_SubMillisecondBasisIsActedOn covers a basis timestamp finer
// than the store's milliseconds: the stored due time is truncated, the
// recomputed one is not. A sweep at exactly the stored due time must act
// on the record, and must end rather than re-plan it to the same
// millisecond forever.
func TestSweep_SubMillisecondBasisIsActedOn(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	e.enableAll("t1")
	expires := testStart.Add(123456789 * time.Nanosecond)
	e.put("t1", "variables", engine.NewRecord{ID: "v1", CreatedAt: testStart, Fields: map[string]any{
		"email": "max@example.com", "expires_at": expires.Format(time.RFC3339Nano),
	}})
	e.clock.Set(expires.Truncate(time.Millisecond))
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	res, err := e.eng.Sweep(ctx)
	if err != nil {
		t.Fatalf("sweep at the stored due time: %v (a sweep that re-plans the same record forever ends here)", err)
	}
	if res.Deleted != 1 || res.Replanned != 0 {
		t.Fatalf("sweep: deleted %d, re-planned %d; want 1 deleted, 0 re-planned", res.Deleted, res.Replanned)
	}
	e.gone("t1", "variables", "v1")
}

// TestSweep_OneInstanceAtATime runs two engines on one database, as two
// instances would: while one holds the sweep lease the other's sweep is
// Busy and acts on nothing; once it is handed back, the other sweeps.
func TestSweep_OneInstanceAtATime(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	e.enableAll("t1")
	e.put("t1", "variables", engine.NewRecord{ID: "v1", CreatedAt: testStart, Fields: map[string]any{"email": "max@example.com"}})
	other := e.secondEngine()
	// Another instance holds the lease, as during its sweep.
	holder := lethe.Lease{Name: "sweep", Owner: "elsewhere/1/x", Until: testStart.Add(2 * 365 * 24 * time.Hour)}
	if ok, err := e.store.TakeLease(e.ctx, holder, testStart); err != nil || !ok {
		t.Fatalf("take lease: %v, %v", ok, err)
	}
	e.clock.Set(testStart.Add(365 * 24 * time.Hour))
	for _, eng := range []*engine.Engine{e.eng, other} {
		res, err := eng.Sweep(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Busy || res.Deleted != 0 {
			t.Fatalf("sweep while another instance holds the lease: busy %v, deleted %d; want busy, 0", res.Busy, res.Deleted)
		}
	}
	e.get("t1", "variables", "v1")
	holder.Until = e.clock.Now() // handed back
	if ok, err := e.store.TakeLease(e.ctx, holder, e.clock.Now()); err != nil || !ok {
		t.Fatalf("hand back lease: %v, %v", ok, err)
	}
	res, err := other.Sweep(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Busy || res.Deleted != 1 {
		t.Fatalf("sweep after the lease was handed back: busy %v, deleted %d; want 1 deleted", res.Busy, res.Deleted)
	}
	// The sweep handed the lease back in turn: the first engine may sweep.
	if res, err := e.eng.Sweep(e.ctx); err != nil || res.Busy {
		t.Fatalf("sweep after the other finished: busy %v, err %v", res.Busy, err)
	}
}

// racingStore is a real store with a writer that strikes between the
// sweeper's read of due records and its batch: once, it rewrites the
// first due record (as a client's PATCH would).
type racingStore struct {
	lethe.Store
	strike    atomic.Bool
	conflicts atomic.Int32
	now       func() time.Time
}

func (s *racingStore) DueRecords(ctx context.Context, now time.Time, limit int) ([]*lethe.Record, error) {
	recs, err := s.Store.DueRecords(ctx, now, limit)
	if err == nil && len(recs) > 0 && s.strike.CompareAndSwap(true, false) {
		r, err := s.Store.Record(ctx, recs[0].Ref())
		if err != nil {
			return nil, err
		}
		r.UpdatedAt = s.now().Add(time.Millisecond)
		if err := s.Store.UpdateRecord(ctx, r); err != nil {
			return nil, err
		}
	}
	return recs, err
}

func (s *racingStore) ApplyBatch(ctx context.Context, b *lethe.Batch) error {
	err := s.Store.ApplyBatch(ctx, b)
	if errors.Is(err, lethe.ErrConflict) {
		s.conflicts.Add(1)
	}
	return err
}

// TestSweep_AWriteBetweenReadAndBatchWins: a record written after the
// sweeper read it is not acted on from the stale copy: the batch is
// refused whole, the sweep reads again, and every due record is deleted
// exactly once, with audit counts that match.
func TestSweep_AWriteBetweenReadAndBatchWins(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	e.enableAll("t1")
	const n = 30
	for i := range n {
		e.put("t1", "variables", engine.NewRecord{ID: fmt.Sprintf("v%02d", i), CreatedAt: testStart, Fields: map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}})
	}
	racing := &racingStore{Store: e.store, now: e.clock.Now}
	racing.strike.Store(true)
	eng, err := engine.New(e.ctx, engine.Config{Store: racing, KEK: e.kek, Now: e.clock.Now, SweepBatch: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	e.clock.Set(testStart.Add(365 * 24 * time.Hour))
	res, err := eng.Sweep(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if racing.conflicts.Load() != 1 {
		t.Fatalf("%d batches refused, want the 1 that raced a writer", racing.conflicts.Load())
	}
	if res.Deleted != n {
		t.Fatalf("sweep deleted %d, want %d", res.Deleted, n)
	}
	entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "t1", Log: lethe.LogSecurity, Event: "sweep.batch"})
	if err != nil {
		t.Fatal(err)
	}
	var audited int64
	for _, en := range entries {
		var d struct {
			Counts map[string]map[string]int64 `json:"counts"`
		}
		if err := json.Unmarshal(en.Data, &d); err != nil {
			t.Fatal(err)
		}
		audited += d.Counts["delete"]["variables"]
	}
	if audited != n {
		t.Fatalf("sweep.batch entries count %d deletions, want %d", audited, n)
	}
	if got := e.rows("t1", "variables"); len(got) != 0 {
		t.Fatalf("%d records left", len(got))
	}
}
