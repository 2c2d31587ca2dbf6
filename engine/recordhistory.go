package engine

import (
	"context"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
)

// RecordEvent is one manager-log entry naming a record: who read it,
// when, how, and which of its sealed fields.
type RecordEvent struct {
	Seq    int64
	Time   time.Time
	Actor  string
	Event  string
	Via    string   // "list", "patch", ... ; "" for a read of the record alone
	Fields []string // the sealed fields the read opened
}

// RecordHistory holds the newest manager-log entries naming one record.
type RecordHistory struct {
	Events []RecordEvent // newest first
	// Scanned is how many entries were read; Partial says the scan
	// stopped at its bound before the log's end, so older entries may
	// name the record too.
	Scanned int
	Partial bool
}

// historyScan bounds the entries RecordHistory reads. The manager log
// names records only inside its sealed parts (which record was read is
// the tenant's business, not the database's), so no index can find them:
// the scan opens entries from the record's creation on, and a bound keeps
// a record page fast on a tenant with months of reads.
const historyScan = 20 * audit.MaxLimit

// RecordHistory lists the manager-log entries of ref's tenant that name
// ref, from created (no entry before a record's creation names it) on,
// keeping the newest max. It reads the log the way AuditLog does, so the
// caller needs the same right to the tenant's logs.
func (e *Engine) RecordHistory(ctx context.Context, ref lethe.RecordRef, created time.Time, max int) (*RecordHistory, error) {
	h := &RecordHistory{}
	q := lethe.AuditQuery{Tenant: ref.Tenant, Log: lethe.LogManager, From: created, Limit: audit.MaxLimit}
	for {
		es, next, err := e.AuditLog(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, en := range es {
			h.Scanned++
			if ev, ok := namesRecord(en, ref); ok {
				h.Events = append(h.Events, ev)
			}
		}
		if next == 0 {
			break
		}
		if h.Scanned >= historyScan {
			h.Partial = true
			break
		}
		q.AfterSeq = next
	}
	slices.Reverse(h.Events)
	if len(h.Events) > max {
		h.Events = h.Events[:max]
	}
	return h, nil
}

// namesRecord finds ref among the records an opened read entry lists
// (data.sealed.read: groups of collection, fields and ids).
func namesRecord(en *LogEntry, ref lethe.RecordRef) (RecordEvent, bool) {
	sealed, _ := en.Data[sealedKey].(map[string]any)
	groups, _ := sealed["read"].([]any)
	for _, g := range groups {
		gm, _ := g.(map[string]any)
		if gm["collection"] != ref.Collection {
			continue
		}
		ids, _ := gm["ids"].([]any)
		if !slices.Contains(ids, any(ref.ID)) {
			continue
		}
		ev := RecordEvent{Seq: en.Seq, Time: en.Time, Actor: en.Actor, Event: en.Event}
		ev.Via, _ = en.Data["via"].(string)
		fs, _ := gm["fields"].([]any)
		for _, f := range fs {
			if s, ok := f.(string); ok {
				ev.Fields = append(ev.Fields, s)
			}
		}
		return ev, true
	}
	return RecordEvent{}, false
}
