package lethe

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestRecordStore_FillsDefaultsAndRefusesWhatNoStoreCanHold(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	updated := created.Add(time.Hour)
	now := created.Add(24 * time.Hour)
	sub := []Subject{{Kind: "email", Field: "email", Hash: []byte("h")}}
	cases := []struct {
		name             string
		rec              *Record
		fails            bool
		invalid          bool // the error is ErrInvalid
		created, updated time.Time
		state            State
	}{
		{name: "times and state given", rec: &Record{Tenant: "t", Collection: "c", ID: "1", CreatedAt: created,
			UpdatedAt: updated, State: StateAnonymized, Subjects: sub}, created: created, updated: updated, state: StateAnonymized},
		{name: "no times: now for both", rec: &Record{Tenant: "t", Collection: "c", ID: "1"},
			created: now, updated: now, state: StateActive},
		{name: "no update time: creation time", rec: &Record{Tenant: "t", Collection: "c", ID: "1", CreatedAt: created},
			created: created, updated: created, state: StateActive},
		{name: "no id", rec: &Record{Tenant: "t", Collection: "c"}, fails: true, invalid: true},
		{name: "subject without hash", rec: &Record{Tenant: "t", Collection: "c", ID: "1",
			Subjects: []Subject{{Kind: "email"}}}, fails: true, invalid: true},
		{name: "plain value JSON cannot hold", rec: &Record{Tenant: "t", Collection: "c", ID: "1",
			Plain: map[string]any{"x": math.Inf(1)}}, fails: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := c.rec.Store(func() time.Time { return now })
			if c.fails {
				if err == nil {
					t.Fatalf("stored: %+v", st)
				}
				if c.invalid && !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !st.Created.Equal(c.created) || !st.Updated.Equal(c.updated) || st.State != c.state {
				t.Errorf("got created %v updated %v state %q; want %v %v %q", st.Created, st.Updated, st.State,
					c.created, c.updated, c.state)
			}
			if st.Plain != "{}" {
				t.Errorf("plain = %q, want {}", st.Plain)
			}
		})
	}
}
