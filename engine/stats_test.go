package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// TestStats_SurviveAnonymization checks O6: statistics grouped by a plain
// field, per day and in total, read the same before and after every
// message was anonymized.
func TestStats_SurviveAnonymization(t *testing.T) {
	e := newTestEnv(t, 16)
	e.tenant("bot", "conversations")
	intents := []any{"greeting", "order_status", "greeting", "goodbye", nil}
	day := 24 * time.Hour
	const n = 50
	for i := range n {
		fields := map[string]any{"text": "bericht", "sender": "user", "metadata": map[string]any{"locale": "nl-BE"}}
		if in := intents[i%len(intents)]; in != nil {
			fields["intent"] = in
		}
		// Spread over five days, a few minutes apart.
		created := testStart.Add(-time.Duration(i%5)*day - time.Duration(i)*time.Minute)
		e.put("bot", "messages", engine.NewRecord{CreatedAt: created, Fields: fields})
	}

	stats := func(perDay bool) []lethe.StatRow {
		t.Helper()
		rows, err := e.eng.Stats(e.ctx, "bot", "messages", "intent", perDay)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	perDayBefore, totalBefore := stats(true), stats(false)
	var sum int64
	days := map[string]bool{}
	for _, r := range perDayBefore {
		sum += r.Count
		days[r.Day] = true
	}
	if sum != n || len(days) < 5 {
		t.Fatalf("stats before anonymization count %d messages over %d days, want %d over at least 5", sum, len(days), n)
	}
	wantTotal := []lethe.StatRow{{Value: nil, Count: 10}, {Value: "goodbye", Count: 10}, {Value: "greeting", Count: 20}, {Value: "order_status", Count: 10}}
	if diff := cmp.Diff(wantTotal, totalBefore); diff != "" {
		t.Errorf("totals by intent (-want +got):\n%s", diff)
	}

	// Every message is past its 30 days, none past its year.
	res := e.sweepAt(testStart.Add(30*day + time.Second))
	if res.Anonymized != n || res.Deleted != 0 {
		t.Fatalf("sweep anonymized %d and deleted %d, want %d and 0", res.Anonymized, res.Deleted, n)
	}
	for _, r := range e.rows("bot", "messages") {
		if r.State != lethe.StateAnonymized {
			t.Fatalf("%s: state %s, want anonymized", r.ID, r.State)
		}
	}

	if diff := cmp.Diff(perDayBefore, stats(true)); diff != "" {
		t.Errorf("per-day statistics changed by anonymization (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(totalBefore, stats(false)); diff != "" {
		t.Errorf("statistics changed by anonymization (-before +after):\n%s", diff)
	}

	t.Run("only a plain field is a grouping key", func(t *testing.T) {
		for _, field := range []string{"text", "metadata", "nope", ""} {
			_, err := e.eng.Stats(e.ctx, "bot", "messages", field, false)
			var fe *lethe.FieldError
			if !errors.Is(err, lethe.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "group_by" {
				t.Errorf("group by %s: err = %v, want a group_by field error", field, err)
			}
		}
	})
}
