package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
)

// lazyItem is one thing waiting for the lazy batcher's next commit:
// a ready entry (an authentication pass) or a read of decrypted PII.
type lazyItem struct {
	entry *lethe.AuditEntry
	read  *readEvent
}

// readEvent is one caller's read of decrypted PII, not yet an entry:
// the entry is built at commit, so that reads of one caller in one
// commit can share it.
type readEvent struct {
	tenant string
	caller Caller
	event  string
	at     time.Time
	recs   []readRec
	// extra are details of the read in the clear (a subject lookup's
	// kinds, "via": "patch"). Only reads without any merge.
	extra map[string]any
}

// readRec is one record of a read.
type readRec struct {
	Collection string
	ID         string
	Fields     []string // the sealed fields the record had, sorted
}

// readGroup is how an entry's sealed part lists the records read: those
// of one collection read with the same fields share the names, so that
// a record costs the entry its id only (a third of what a record with
// its names costs; the log keeps 180 days of reads).
type readGroup struct {
	Collection string   `json:"collection"`
	Fields     []string `json:"fields"`
	IDs        []string `json:"ids"`
}

// groupKey is r's collection and fields, each quoted so that no two
// lists of names run together into one key.
func groupKey(r readRec) string {
	b := strconv.AppendQuote(nil, r.Collection)
	for _, f := range r.Fields {
		b = strconv.AppendQuote(b, f)
	}
	return string(b)
}

// groupReads lists recs by collection and fields, in the order of each
// group's first record; a record read twice is listed twice.
func groupReads(recs []readRec) []readGroup {
	var out []readGroup
	at := map[string]int{}
	for _, r := range recs {
		k := groupKey(r)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, readGroup{Collection: r.Collection, Fields: r.Fields})
		}
		out[i].IDs = append(out[i].IDs, r.ID)
	}
	return out
}

// readKey is what reads must share to share an entry.
type readKey struct {
	tenant, actor, ip, event string
}

// pendingRead is a read on its way to logRead, announced to the lazy
// batcher (audit.Batcher.Expect) so that a commit waits for it rather
// than go without it. Start it before the read touches the store and
// defer abandon: a read that fails before logRead withdraws, one that
// reaches logRead arrives there.
type pendingRead struct {
	e    *Engine
	done bool
}

// startRead announces a read that will be logged.
func (e *Engine) startRead() pendingRead {
	if !e.aud.reads {
		return pendingRead{done: true}
	}
	e.aud.lazy.Expect()
	return pendingRead{e: e}
}

// abandon withdraws the announcement unless the read arrived.
func (p *pendingRead) abandon() {
	if !p.done {
		p.done = true
		p.e.aud.lazy.Abandon()
	}
}

// arrive ends the announcement as the read reaches the batcher.
func (p *pendingRead) arrive() {
	if !p.done {
		p.done = true
		p.e.aud.lazy.Arrive()
	}
}

// logRead records in the manager log that the caller read decrypted PII:
// which records and fields, from which address. Record ids, field names
// and the address are sealed. It fails closed: the read answers its
// error.
//
// It returns once the entry is committed, but without waiting for the
// disk flush: reads are the hot path, and a power cut may lose the last
// read entries, never an erasure's. Plain reads (no extra) of one caller
// that land in the same commit share one entry listing every record read;
// the entry's time is the first read's. Per read, that saves an insert
// into three B-trees, a hash and a seal, which is most of what auditing
// a read costs (BENCHMARKS.md, "Audited reads").
func (e *Engine) logRead(ctx context.Context, p *pendingRead, tenant, event string, read []*lethe.Record, extra map[string]any) error {
	p.arrive()
	if !e.aud.reads {
		return nil
	}
	ev := &readEvent{tenant: tenant, caller: CallerFrom(ctx), event: event, at: e.now().UTC(), extra: extra,
		recs: make([]readRec, 0, len(read))}
	for _, r := range read {
		ev.recs = append(ev.recs, readRec{Collection: r.Collection, ID: r.ID, Fields: sealedNames(r)})
	}
	if err := e.aud.lazy.Append(ctx, lazyItem{read: ev}); err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

// commitLazy is the lazy batcher's commit: it builds the read entries,
// merging plain reads per caller, and appends them with the ready
// entries in one transaction.
func (e *Engine) commitLazy(ctx context.Context, items []lazyItem) error {
	entries := make([]*lethe.AuditEntry, 0, len(items))
	// One group per entry, in the order of its first read. Groups are
	// built afresh, never by changing a caller's event: should this
	// commit fail, each caller is retried alone with its own.
	var groups []readEvent
	merged := map[readKey]int{} // index into groups
	for _, it := range items {
		if it.entry != nil {
			entries = append(entries, it.entry)
			continue
		}
		r := it.read
		k := readKey{r.tenant, r.caller.Actor, r.caller.IP, r.event}
		if i, ok := merged[k]; ok && len(r.extra) == 0 {
			groups[i].recs = append(groups[i].recs, r.recs...)
			continue
		}
		if len(r.extra) == 0 {
			merged[k] = len(groups)
		}
		g := *r
		g.recs = slices.Clip(r.recs) // appending copies
		groups = append(groups, g)
	}
	for i := range groups {
		en, err := e.readEntry(ctx, &groups[i])
		if err != nil {
			return err
		}
		entries = append(entries, en)
	}
	if err := e.commitAudit(ctx, entries, e.aud.raw.AppendAuditLazy); err != nil {
		return err
	}
	e.aud.lazyEntries.Add(int64(len(entries)))
	return nil
}

// readEntry builds the manager-log entry of r: in the clear the event,
// the actor, the collections and how many records; sealed the address
// and the records read with their fields (readGroup).
func (e *Engine) readEntry(ctx context.Context, r *readEvent) (*lethe.AuditEntry, error) {
	groups := groupReads(r.recs)
	colls := map[string]bool{}
	for _, g := range groups {
		colls[g.Collection] = true
	}
	data := map[string]any{"collections": slices.Sorted(maps.Keys(colls)), "records": len(r.recs)}
	maps.Copy(data, r.extra)
	secret := map[string]any{"ip": r.caller.IP, "read": groups}
	en, err := e.sealedEntry(ctx, r.tenant, lethe.LogManager, r.caller.Actor, r.event, data, secret)
	if err != nil {
		return nil, err
	}
	en.Time = r.at
	return en, nil
}
