package engine

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
)

// exportCollection is the associated-data collection of export chunks: it
// binds a chunk to its tenant, request and position, so a chunk copied to
// another request or reordered does not open.
const exportCollection = "_request_export"

// ExportDoc is one record as an export holds it.
type ExportDoc struct {
	Collection string         `json:"collection"`
	ID         string         `json:"id"`
	Origin     string         `json:"origin,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	State      lethe.State    `json:"state"`
	Fields     map[string]any `json:"fields"`
	// Redacted holds the values taken out of the texts redacted on write,
	// by field: the person has a right to them (GDPR Art. 15).
	Redacted map[string][]Found `json:"redacted,omitempty"`
}

func exportAD(tenant, request string, index int) keyring.AD {
	return keyring.AD{Tenant: tenant, Collection: exportCollection, Record: request, Field: strconv.Itoa(index)}
}

// exportBatch decrypts a batch of records into one export chunk, sealed
// with the tenant's data key: an export is personal data like the records
// it copies. A dry run only counts.
func (r *RequestRunner) exportBatch(ctx context.Context, run *jobRun, recs []*lethe.Record, b *lethe.RequestBatch) error {
	j := run.job
	docs := make([]ExportDoc, 0, len(recs))
	for _, rec := range recs {
		run.res.add(rec.Collection, countExport)
		if j.DryRun {
			continue
		}
		fields, err := openFields(run.keys, rec)
		if err != nil {
			return fmt.Errorf("export %s/%s: %w", rec.Collection, rec.ID, err)
		}
		found := exportFindings(run.keys, run.reach, rec, takeFindings(fields))
		if run.reach != nil && !run.reach.owns(rec) {
			// Someone else's record that names the subject only in a list
			// (an additional contact person of another customer's
			// address): the export holds the subject's own entries, not
			// the other person's data (GDPR Art. 15(4)).
			fields = ownItems(run, run.ts.set.Collection(rec.Collection), fields)
		}
		docs = append(docs, ExportDoc{Collection: rec.Collection, ID: rec.ID, Origin: rec.Origin, CreatedAt: rec.CreatedAt,
			UpdatedAt: rec.UpdatedAt, State: rec.State, Fields: fields, Redacted: found})
	}
	if j.DryRun {
		return nil
	}
	body, err := json.Marshal(docs)
	if err != nil {
		return fmt.Errorf("export chunk: %w", err)
	}
	if j.ExportChunks == 0 {
		j.ExportExpiresAt = run.now.Add(r.exportTTL())
	}
	sealed, err := run.keys.Seal(body, exportAD(j.Tenant, j.ID, j.ExportChunks))
	if err != nil {
		return fmt.Errorf("seal export chunk: %w", err)
	}
	j.ExportChunks++
	b.Chunk = sealed
	return nil
}

// Export is a finished export ready to be written out.
type Export struct {
	e           *Engine
	job         *lethe.Request
	keys        *keyring.TenantKeys
	colls       []string // the tenant's collections, sorted
	fields      map[string][]string
	Format      string // "json" or "zip"
	ContentType string
	Filename    string
}

// OpenExport checks that a job's export can be downloaded and records the
// download in the tenant's security log before a byte is written (fail
// closed: no audit entry, no download). format is "json" (default) or "zip"
// (one JSON and one CSV file per collection).
func (e *Engine) OpenExport(ctx context.Context, actor, tenant, id, format string) (*Export, error) {
	switch format {
	case "":
		format = "json"
	case "json", "zip":
	default:
		return nil, &lethe.FieldError{Field: "format", Reason: "want json or zip"}
	}
	job, err := e.store.Request(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if job.Type != lethe.RequestExport && job.Type != lethe.RequestExportThenAnonymize {
		return nil, fmt.Errorf("request %s is an %s request: %w: it has no export", id, job.Type, lethe.ErrNotFound)
	}
	if job.DryRun {
		return nil, fmt.Errorf("request %s is a dry run: %w: it has no export", id, lethe.ErrNotFound)
	}
	if job.State != lethe.RequestDone && (job.Phase == phaseExport || job.Phase == "") {
		return nil, fmt.Errorf("request %s: %w: the export is not complete yet (state %s)", id, lethe.ErrNotFound, job.State)
	}
	if job.ExportChunks == 0 || !job.ExportExpiresAt.After(e.now()) {
		return nil, fmt.Errorf("request %s: %w: the export expired or was never written", id, lethe.ErrNotFound)
	}
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	x := &Export{e: e, job: job, keys: keys, Format: format, fields: map[string][]string{}}
	for _, c := range ts.set.Collections() {
		x.colls = append(x.colls, c.Name)
		for _, f := range c.Fields {
			x.fields[c.Name] = append(x.fields[c.Name], f.Name)
		}
	}
	sort.Strings(x.colls)
	if format == "zip" {
		x.ContentType, x.Filename = "application/zip", "export-"+id+".zip"
	} else {
		x.ContentType, x.Filename = "application/json", "export-"+id+".json"
	}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "request.export.download", map[string]any{"request": id, "format": format}); err != nil {
		return nil, err
	}
	return x, nil
}

// each calls fn for every exported record, in (collection, id) order.
func (x *Export) each(ctx context.Context, fn func(d *ExportDoc) error) error {
	for i := 0; i < x.job.ExportChunks; i++ {
		sealed, err := x.e.store.ExportChunk(ctx, x.job.Tenant, x.job.ID, i)
		if err != nil {
			return err
		}
		body, err := x.keys.Open(sealed, exportAD(x.job.Tenant, x.job.ID, i))
		if err != nil {
			return fmt.Errorf("export chunk %d: %w", i, err)
		}
		var docs []ExportDoc
		if err := json.Unmarshal(body, &docs); err != nil {
			return fmt.Errorf("export chunk %d: %w", i, err)
		}
		for k := range docs {
			if err := fn(&docs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteTo writes the export in its format.
func (x *Export) WriteTo(ctx context.Context, w io.Writer) error {
	if x.Format == "zip" {
		return x.writeZip(ctx, w)
	}
	return x.writeJSON(ctx, w)
}

// writeJSON streams {"request_id", "tenant", "exported_at", "collections":
// {name: [records]}}, every collection of the tenant present (empty when
// the scope holds none of it, X10).
func (x *Export) writeJSON(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(map[string]any{"request_id": x.job.ID, "tenant": x.job.Tenant, "type": x.job.Type})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"collections":{`)
	i, cur, n, first := 0, "", 0, true
	open := func(name string) {
		if !first {
			bw.WriteString(",")
		}
		first = false
		k, _ := json.Marshal(name)
		bw.Write(k)
		bw.WriteString(":[")
	}
	emitEmpty := func(until string, all bool) {
		for i < len(x.colls) && (all || x.colls[i] < until) {
			open(x.colls[i])
			bw.WriteString("]")
			i++
		}
	}
	err := x.each(ctx, func(d *ExportDoc) error {
		if d.Collection != cur || n == 0 {
			if n > 0 {
				bw.WriteString("]")
			}
			emitEmpty(d.Collection, false)
			if i < len(x.colls) && x.colls[i] == d.Collection {
				i++
			}
			open(d.Collection)
			cur, n = d.Collection, 0
		}
		if n > 0 {
			bw.WriteString(",")
		}
		n++
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if n > 0 {
		bw.WriteString("]")
	}
	emitEmpty("", true)
	bw.WriteString("}}\n")
	return bw.Flush()
}

// writeZip writes one <collection>.json (array of records) and one
// <collection>.csv per collection with records, and manifest.json with the
// count of every collection. Two passes over the chunks keep memory flat:
// zip entries are written one after the other.
func (x *Export) writeZip(ctx context.Context, w io.Writer) error {
	zw := zip.NewWriter(w)
	counts := map[string]int{}
	var (
		cur string
		out io.Writer
		n   int
	)
	closeJSON := func() {
		if out != nil {
			io.WriteString(out, "]\n")
		}
	}
	err := x.each(ctx, func(d *ExportDoc) error {
		if out == nil || d.Collection != cur {
			closeJSON()
			var err error
			if out, err = zw.Create(d.Collection + ".json"); err != nil {
				return err
			}
			io.WriteString(out, "[")
			cur, n = d.Collection, 0
		}
		if n > 0 {
			io.WriteString(out, ",\n")
		}
		n++
		counts[d.Collection]++
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	closeJSON()
	var cw *csv.Writer
	var cols []string
	cur = ""
	err = x.each(ctx, func(d *ExportDoc) error {
		if cw == nil || d.Collection != cur {
			if cw != nil {
				cw.Flush()
			}
			f, err := zw.Create(d.Collection + ".csv")
			if err != nil {
				return err
			}
			cw, cur = csv.NewWriter(f), d.Collection
			cols = x.fields[d.Collection]
			if cols == nil {
				for k := range d.Fields {
					cols = append(cols, k)
				}
				sort.Strings(cols)
			}
			if err := cw.Write(append([]string{"id", "origin", "created_at", "updated_at", "state"}, cols...)); err != nil {
				return err
			}
		}
		row := []string{d.ID, d.Origin, d.CreatedAt.Format(time.RFC3339Nano), d.UpdatedAt.Format(time.RFC3339Nano), string(d.State)}
		for _, c := range cols {
			row = append(row, csvValue(d.Fields[c]))
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	manifest := map[string]any{"request_id": x.job.ID, "tenant": x.job.Tenant, "type": x.job.Type}
	all := map[string]int{}
	for _, c := range x.colls {
		all[c] = counts[c]
	}
	for c, k := range counts {
		all[c] = k
	}
	manifest["collections"] = all
	f, err := zw.Create("manifest.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(manifest); err != nil {
		return err
	}
	return zw.Close()
}

// csvValue writes strings as they are and everything else as JSON.
func csvValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ownItems keeps, of a record that is not the subject's, only the list
// entries that hold one of the subject's identifiers.
func ownItems(run *jobRun, c *policy.Collection, fields map[string]any) map[string]any {
	out := map[string]any{}
	if c == nil {
		return out
	}
	for _, f := range c.Fields {
		items, ok := fields[f.Name].([]any)
		if !ok {
			continue
		}
		var mine []any
		for _, raw := range items {
			if itemMatches(run, f, raw) {
				mine = append(mine, raw)
			}
		}
		if len(mine) > 0 {
			out[f.Name] = mine
		}
	}
	return out
}
