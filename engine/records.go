package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

// NewRecord is a record as a client hands it in.
type NewRecord struct {
	ID        string // optional; a UUIDv7 is assigned when empty
	Origin    string // optional data origin, e.g. "amazon"
	CreatedAt time.Time
	Fields    map[string]any
}

// Doc is a record as a client sees it, PII decrypted.
type Doc struct {
	ID         string
	Collection string
	Origin     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	State      lethe.State
	Fields     map[string]any
	// Redacted lists, for each field redacted on write, the types of what
	// was taken out of its text (EMAIL, PHONE, ...), never the values:
	// those are sealed apart and leave only in the subject's export.
	Redacted map[string][]string
	Plan     lethe.Plan
}

// maxFutureSkew bounds how far in the future an imported created_at may lie.
const maxFutureSkew = 5 * time.Minute

// Put stores new records of one collection, all or nothing: PII sealed,
// subjects blind-indexed, retention planned.
func (e *Engine) Put(ctx context.Context, tenant, collection string, in []NewRecord) ([]*Doc, error) {
	t, _ := ctx.Value(putTicketKey{}).(*putTicket)
	if t == nil {
		t = e.announcePut()
		defer t.abandon()
	}
	ts, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	s, err := e.settingsFor(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	if !retention.Enabled(c, s) {
		return nil, fmt.Errorf("%w: tenant %s switched %s off; enable it in its settings first", lethe.ErrDisabled, tenant, collection)
	}
	a, err := e.writeAnalyzer(ts, c)
	if err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	recs := make([]*lethe.Record, len(in))
	docs := make([]*Doc, len(in))
	// Every invalid record of a batch is reported, each with all its
	// invalid fields; any other error stops at once.
	var invalid problems
	for i, nr := range in {
		r, fields, err := e.newRecord(c, tenant, nr, now)
		if err == nil && a != nil {
			err = redactOnWrite(c, a, fields)
		}
		if err == nil {
			r.Plain, r.Sealed, err = sealFields(keys, c, r.Ref(), fields)
		}
		if err == nil {
			r.Subjects, err = subjectsOf(keys, c, fields)
		}
		if err == nil {
			r.Embedding, err = embeddingOf(c, fields)
		}
		if err != nil {
			if !invalid.addErr(atIndex(err, i, len(in))) {
				return nil, atIndex(err, i, len(in))
			}
			continue
		}
		r.Plan = retention.Plan(c, s, planInput(r))
		recs[i] = r
		found := takeFindings(fields)
		docs[i] = &Doc{ID: r.ID, Collection: collection, Origin: r.Origin, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State, Fields: fields, Redacted: findingTypes(found), Plan: r.Plan}
	}
	if err := invalid.err(); err != nil {
		return nil, err
	}
	t.arrive()
	if err := e.store.InsertRecords(ctx, recs); err != nil {
		return nil, err
	}
	e.indexed(recs)
	return docs, nil
}

// insertAnnouncer is a store whose group commit can wait for inserts on
// their way (the SQLite store; see sqlite.Store.ExpectInsert).
type insertAnnouncer interface {
	ExpectInsert() (arrive, abandon func())
}

// putTicket is a Put announced to the store's group commit.
type putTicket struct{ arrive, abandon func() }

type putTicketKey struct{}

func (e *Engine) announcePut() *putTicket {
	if a, ok := lethe.StoreAs[insertAnnouncer](e.store); ok {
		arrive, abandon := a.ExpectInsert()
		return &putTicket{arrive, abandon}
	}
	return &putTicket{func() {}, func() {}}
}

// AnnouncePut tells the store's group commit that a Put with ctx is on
// its way, before its caller has even read the records (an HTTP body):
// a commit about to run then waits for it, briefly, so that concurrent
// creates share one fsync. Put arrives with the returned context; the
// caller defers abandon, which withdraws the announcement should Put not
// be called or fail before it reaches the store.
func (e *Engine) AnnouncePut(ctx context.Context) (_ context.Context, abandon func()) {
	t := e.announcePut()
	return context.WithValue(ctx, putTicketKey{}, t), t.abandon
}

// newRecord checks a client's record and reports every invalid part at
// once: id, origin, created_at and each field.
func (e *Engine) newRecord(c *policy.Collection, tenant string, nr NewRecord, now time.Time) (*lethe.Record, map[string]any, error) {
	var p problems
	id := nr.ID
	if id == "" {
		id = newID()
	} else if !recordIDPattern.MatchString(id) {
		p.add("id", "want 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'")
	}
	if nr.Origin != "" && !originPattern.MatchString(nr.Origin) {
		p.add("origin", "want 1-64 lower-case characters of a-z, 0-9, '.', '_' and '-'")
	}
	created := now
	if !nr.CreatedAt.IsZero() {
		if nr.CreatedAt.After(now.Add(maxFutureSkew)) {
			p.add("created_at", "lies in the future")
		}
		created = nr.CreatedAt.UTC()
	}
	fields := p.object(c.Name, c.Fields, nr.Fields, "fields.")
	// Required means present: a field that is there but invalid was
	// reported above and is not missing as well.
	for _, f := range c.Fields {
		if v := nr.Fields[f.Name]; f.Required && v == nil {
			p.add("fields."+f.Name, "required")
		}
	}
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	r := &lethe.Record{Tenant: tenant, Collection: c.Name, ID: id, Origin: nr.Origin, CreatedAt: created, UpdatedAt: now, State: lethe.StateActive}
	return r, fields, nil
}

// atIndex prefixes the field errors of a batch's record with the record's
// index (records[3].fields.email); other errors pass unchanged.
func atIndex(err error, i, n int) error {
	fes, ok := fieldErrorsOf(err)
	if n <= 1 || !ok {
		return err
	}
	var p problems
	for _, fe := range fes {
		p.add(fmt.Sprintf("records[%d].%s", i, fe.Field), fe.Reason)
	}
	return p.err()
}

// planInput is what the planner reads of a stored record; it never needs a
// decrypted value (bases are plain timestamps, conditions test presence).
func planInput(r *lethe.Record) retention.Input {
	return retention.Input{
		Origin:    r.Origin,
		CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt,
		State:     r.State,
		Plain:     r.Plain,
		Has: func(f string) bool {
			if _, ok := r.Plain[f]; ok {
				return true
			}
			_, ok := r.Sealed[f]
			return ok
		},
	}
}

// Get returns one record with its PII decrypted.
func (e *Engine) Get(ctx context.Context, ref lethe.RecordRef) (*Doc, error) {
	read := e.startRead()
	defer read.abandon()
	if _, _, err := e.collection(ctx, ref.Tenant, ref.Collection); err != nil {
		return nil, err
	}
	r, err := e.store.Record(ctx, ref)
	if err != nil {
		return nil, err
	}
	d, err := e.doc(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := e.logRead(ctx, &read, ref.Tenant, "record.read", []*lethe.Record{r}, nil); err != nil {
		return nil, err
	}
	return d, nil
}

func (e *Engine) doc(ctx context.Context, r *lethe.Record) (*Doc, error) {
	keys, err := e.keys.Tenant(ctx, r.Tenant)
	if err != nil {
		return nil, err
	}
	fields, err := openFields(keys, r)
	if err != nil {
		return nil, err
	}
	found := takeFindings(fields)
	return &Doc{ID: r.ID, Collection: r.Collection, Origin: r.Origin, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State, Fields: fields, Redacted: findingTypes(found), Plan: r.Plan}, nil
}

// Patch merges fields into a record (null removes a field) and re-plans
// it: setting shipped_at, say, starts the marketplace rule's clock.
func (e *Engine) Patch(ctx context.Context, ref lethe.RecordRef, patch map[string]any) (*Doc, error) {
	ts, c, err := e.collection(ctx, ref.Tenant, ref.Collection)
	if err != nil {
		return nil, err
	}
	s, err := e.settingsFor(ctx, ref.Tenant, ref.Collection)
	if err != nil {
		return nil, err
	}
	if !retention.Enabled(c, s) {
		return nil, fmt.Errorf("%w: tenant %s switched %s off", lethe.ErrDisabled, ref.Tenant, ref.Collection)
	}
	changed, err := checkFields(c, patch, "fields.")
	if err != nil {
		return nil, err
	}
	a, err := e.writeAnalyzer(ts, c)
	if err != nil {
		return nil, err
	}
	if a != nil {
		if err := redactOnWrite(c, a, changed); err != nil {
			return nil, err
		}
	}
	r, err := e.store.Record(ctx, ref)
	if err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, ref.Tenant)
	if err != nil {
		return nil, err
	}
	if r.State == lethe.StateAnonymized {
		for name := range patch {
			if f := c.Field(name); f.IsPII() || f.Type == policy.TypeVector {
				return nil, &lethe.FieldError{Field: "fields." + name, Reason: "the record is anonymized; its personal data cannot be written again"}
			}
		}
	}
	plain, sealed, err := sealFields(keys, c, ref, changed)
	if err != nil {
		return nil, err
	}
	newSubjects, err := subjectsOf(keys, c, changed)
	if err != nil {
		return nil, err
	}
	if r.Plain == nil {
		r.Plain = map[string]any{}
	}
	if r.Sealed == nil {
		r.Sealed = map[string][]byte{}
	}
	for name := range patch {
		delete(r.Plain, name)
		delete(r.Sealed, name)
		delete(r.Sealed, findingsKey(name)) // a new text brings its own
	}
	for k, v := range plain {
		r.Plain[k] = v
	}
	for k, v := range sealed {
		r.Sealed[k] = v
	}
	if _, ok := patch[policy.EmbeddingField]; ok && c.IsVectors() {
		if r.Embedding, err = embeddingOf(c, changed); err != nil {
			return nil, err
		}
	}
	if err := checkRequired(c, mergedNames(r)); err != nil {
		return nil, err
	}
	kept := r.Subjects[:0]
	for _, sub := range r.Subjects {
		top := topField(sub.Field)
		if name, found := findingsField(sub.Field); found {
			top = name
		}
		if _, touched := patch[top]; !touched {
			kept = append(kept, sub)
		}
	}
	r.Subjects = append(kept, newSubjects...)
	r.UpdatedAt = e.now().UTC()
	r.Plan = retention.Plan(c, s, planInput(r))
	if err := e.store.UpdateRecord(ctx, r); err != nil {
		return nil, err
	}
	e.indexed([]*lethe.Record{r})
	// Announced only now: a commit of reads should not wait for the
	// update's own commit.
	read := e.startRead()
	defer read.abandon()
	d, err := e.doc(ctx, r)
	if err != nil {
		return nil, err
	}
	// The answer shows the whole record, PII included: a read.
	if err := e.logRead(ctx, &read, ref.Tenant, "record.read", []*lethe.Record{r}, map[string]any{"via": "patch"}); err != nil {
		return nil, err
	}
	return d, nil
}

// topField returns the top-level field of a subject's field path
// ("weitere_ansprechpartner.email" → "weitere_ansprechpartner").
func topField(path string) string {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			return path[:i]
		}
	}
	return path
}

func mergedNames(r *lethe.Record) map[string]any {
	m := make(map[string]any, len(r.Plain)+len(r.Sealed))
	for k, v := range r.Plain {
		m[k] = v
	}
	for k := range r.Sealed {
		m[k] = true
	}
	if r.Embedding != nil {
		m[policy.EmbeddingField] = true
	}
	return m
}

// Delete erases one record now (C3: any data can be deleted manually at
// any time), unless a legal hold keeps it. The erasure and its audit entry
// commit together.
func (e *Engine) Delete(ctx context.Context, actor string, ref lethe.RecordRef) error {
	_, c, err := e.collection(ctx, ref.Tenant, ref.Collection)
	if err != nil {
		return err
	}
	s, err := e.settingsFor(ctx, ref.Tenant, ref.Collection)
	if err != nil {
		return err
	}
	r, err := e.store.Record(ctx, ref)
	if err != nil {
		return err
	}
	if held, until, reason := retention.Hold(c, s, planInput(r), e.now()); held {
		return fmt.Errorf("%w until %s: %s", lethe.ErrHeld, until.UTC().Format(time.DateOnly), reason)
	}
	entry, err := e.entry(ref.Tenant, lethe.LogSecurity, actor, "record.delete", map[string]any{"collection": ref.Collection, "id": ref.ID})
	if err != nil {
		return err
	}
	return e.store.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{ref}, Audit: []*lethe.AuditEntry{entry}})
}
