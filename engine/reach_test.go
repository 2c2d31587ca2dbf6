package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
)

// person is one data subject's identifiers and the marker in every other
// personal value written for it, all carrying a random token so that no
// value can occur anywhere by chance.
type person struct {
	tok string
	ids map[string]string // identifier kind → value as written
}

func newPerson(t *testing.T) person {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	var digits int64
	for _, c := range b[:4] {
		digits = digits*256 + int64(c)
	}
	return person{tok: tok, ids: map[string]string{
		"email":           "p-" + tok + "@example.com",
		"phone":           fmt.Sprintf("+49 151 %08d", 10_000_000+digits%90_000_000),
		"customer_id":     "CUST-" + tok,
		"device_id":       "DEV-" + tok,
		"session_id":      "SESS-" + tok,
		"conversation_id": "CONV-" + tok,
		"voucher_code":    "VC-" + tok,
		"ip_address":      netip.MustParseAddr(fmt.Sprintf("2001:db8:1%s:1%s:1%s::7", tok[0:3], tok[3:6], tok[6:9])).String(),
	}}
}

// fields fills every field of a collection for the person: identifiers
// with the person's, links with the given parent ids, other personal
// values with a marker naming collection and field, the rest with plain
// values. Fields in omit are left out, so that a record can be reachable
// through a link alone.
func (p person) fields(t *testing.T, c *policy.Collection, at time.Time, links map[string]string, omit ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range c.Fields {
		if containsStr(omit, f.Name) {
			continue
		}
		if f.Link != "" {
			id, ok := links[f.Link]
			if !ok {
				t.Fatalf("%s.%s links to %s: the case gives no parent id", c.Name, f.Name, f.Link)
			}
			out[f.Name] = id
			continue
		}
		out[f.Name] = p.value(t, c.Name, f, at)
	}
	return out
}

func (p person) value(t *testing.T, coll string, f *policy.Field, at time.Time) any {
	marker := fmt.Sprintf("Tok-%s-%s-%s", p.tok, coll, f.Name)
	if f.Subject != "" {
		v, ok := p.ids[f.Subject]
		if !ok {
			t.Fatalf("%s.%s: no test value for identifier kind %s", coll, f.Name, f.Subject)
		}
		return v
	}
	switch f.Type {
	case policy.TypeString, policy.TypeText, "id":
		if f.IsPersonal() {
			return marker
		}
		return f.Name + " value"
	case policy.TypeInteger:
		return int64(7)
	case policy.TypeNumber:
		return 2.5
	case policy.TypeBoolean:
		return true
	case policy.TypeTimestamp:
		return at.Format(time.RFC3339)
	case "date":
		return at.Format(time.DateOnly)
	case policy.TypeObject, "json":
		return map[string]any{"note": marker}
	case policy.TypeList:
		item := map[string]any{}
		for _, it := range f.Items {
			item[it.Name] = p.value(t, coll+"."+f.Name, it, at)
		}
		return []any{item}
	}
	t.Fatalf("%s.%s: no test value for type %s", coll, f.Name, f.Type)
	return nil
}

// needles are the person's values as any store could hold them in the
// clear: identifiers as written and normalized, and the token of every
// other personal value.
func (p person) needles() []string {
	out := []string{p.tok}
	for kind, v := range p.ids {
		out = append(out, v)
		if kind == "email" {
			out = append(out, strings.ToLower(v))
		}
		if kind == "phone" {
			out = append(out, strings.ReplaceAll(v, " ", ""))
		}
	}
	return out
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// packCase writes one person's data into every collection of a pack that
// can hold it, some of them reachable only through a link or a same_person
// tie, and names the one identifier a request uses.
type packCase struct {
	name, pack string
	by         string // the identifier kind the requests name
	// records, in write order (parents first): collection → id, fields to
	// leave out, and parent ids by linked collection.
	records []caseRecord
	held    []string // collections the policy keeps on erasure (legal hold)
}

type caseRecord struct {
	collection, id string
	omit           []string
	links          map[string]string
}

var packCases = []packCase{
	{
		// A chat customer: the e-mail address reaches the variables, whose
		// same_person tie leads to the device and the messenger customer id;
		// messages are reached by their device id or their messenger
		// session, push notifications by their subscription.
		name: "chatbot customer", pack: "chatbot", by: "email",
		records: []caseRecord{
			{collection: "messenger_sessions", id: "ms"},
			{collection: "push_subscriptions", id: "ps"},
			{collection: "variables", id: "var"},
			{collection: "live_chat_messages", id: "lc", omit: []string{"device_id", "session_id", "ip_address"}, links: map[string]string{"messenger_sessions": "ms"}},
			{collection: "automated_chat_messages", id: "ac", omit: []string{"messenger_session_id", "session_id"}},
			{collection: "nlu_messages", id: "nlu", omit: []string{"session_id"}},
			{collection: "runtime_log", id: "rl"},
			{collection: "marketing_consents", id: "mc"},
			{collection: "voucher_codes", id: "vc"},
			{collection: "loyalty_transactions", id: "lt"},
			{collection: "reward_redemptions", id: "rr", omit: []string{"email"}}, // found by the phone of the prize draw entry
			{collection: "prize_draw_entries", id: "pd"},
			{collection: "push_notifications", id: "pn", links: map[string]string{"push_subscriptions": "ps"}},
			{collection: "web_notifications", id: "wn"},
		},
	},
	{
		// A manager user: the manager log goes, the security log is held
		// for its fixed period (the pack's choice, see ADR 0013).
		name: "chatbot manager user", pack: "chatbot", by: "email",
		records: []caseRecord{
			{collection: "manager_log", id: "ml"},
			{collection: "security_log", id: "sl"},
		},
		held: []string{"security_log"},
	},
	{
		name: "conversations", pack: "conversations", by: "conversation_id",
		records: []caseRecord{
			{collection: "sessions", id: "s"},
			{collection: "messages", id: "m", links: map[string]string{"sessions": "s"}},
			{collection: "contexts", id: "ctx", links: map[string]string{"sessions": "s"}},
		},
	},
	{
		// A marketplace buyer: the order's same_person tie leads from the
		// e-mail address to the customer number, and so to the address and
		// the archived invoice (held for ten years); the delivery note is
		// reached through its order alone.
		name: "erp buyer", pack: "erp-marketplace", by: "email",
		records: []caseRecord{
			{collection: "orders", id: "o", omit: []string{"rechnung_email", "rechnung_telefon"}},
			{collection: "delivery_notes", id: "dn", omit: []string{"email", "telefon", "kundennummer"}, links: map[string]string{"orders": "o"}},
			{collection: "invoices", id: "inv", omit: []string{"email", "telefon"}, links: map[string]string{"orders": "o"}},
			{collection: "addresses", id: "adr", omit: []string{"email", "telefon", "rechnung_email", "rechnung_telefon", "lieferadressen", "weitere_ansprechpartner"}},
			{collection: "archived_documents", id: "arch"},
		},
		held: []string{"archived_documents"},
	},
}

// TestRequest_EveryPackErasesAPersonEverywhere writes one person's data
// (and a bystander's beside it) into every collection of each pack that
// can hold it, exports and erases by one identifier, and checks that the
// export holds every value, the erasure reaches every record (linked ones
// included) and leaves the bystander alone, that held records stay with
// their reason until their period ends, and that then none of the person's
// values is left: not through the API, not in the store's files (SQLite)
// or tables (PostgreSQL).
func TestRequest_EveryPackErasesAPersonEverywhere(t *testing.T) {
	for _, tc := range packCases {
		t.Run(tc.name, func(t *testing.T) {
			e := reqFresh(t)
			if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", []string{tc.pack}); err != nil {
				t.Fatal(err)
			}
			for _, c := range mustCollections(t, e) {
				if c.Switchable {
					on := true
					if _, err := e.eng.PutSettings(e.ctx, "admin", "t1", c.Name, &lethe.Settings{Enabled: &on}); err != nil {
						t.Fatal(err)
					}
				}
			}
			subj, other := newPerson(t), newPerson(t)
			colls := map[string]*policy.Collection{}
			for _, c := range mustCollections(t, e) {
				colls[c.Name] = c
			}
			write := func(p person, prefix string) {
				for _, r := range tc.records {
					links := map[string]string{}
					for k, v := range r.links {
						links[k] = prefix + v
					}
					e.put("t1", r.collection, engine.NewRecord{ID: prefix + r.id, Origin: "amazon", Fields: p.fields(t, colls[r.collection], e.clock(), links, r.omit...)})
				}
			}
			write(subj, "a-")
			write(other, "b-")
			request := map[string]string{tc.by: subj.ids[tc.by]}

			// The export holds every value of every record of the person,
			// and none of the bystander's.
			exp := e.run("t1", engine.RequestInput{Type: lethe.RequestExport, Subject: request})
			body := exportBody(t, e, exp.ID)
			for _, r := range tc.records {
				want := subj.fields(t, colls[r.collection], e.clock(), map[string]string{}, append(r.omit, linkFields(colls[r.collection])...)...)
				for name, v := range want {
					if s, ok := v.(string); ok && !bytes.Contains(body, []byte(s)) {
						t.Errorf("export lacks %s.%s = %q", r.collection, name, s)
					}
				}
				if !bytes.Contains(body, []byte(`"a-`+r.id+`"`)) {
					t.Errorf("export lacks record %s/a-%s", r.collection, r.id)
				}
			}
			if bytes.Contains(body, []byte(other.tok)) {
				t.Errorf("export holds the bystander's data")
			}

			// The dry run lists every record, linked ones included, and the
			// erasure does what it listed.
			dry := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: request, DryRun: true})
			er := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: request})
			items := e.items("t1", er.ID)
			if dryItems := e.items("t1", dry.ID); fmt.Sprint(dryItems) != fmt.Sprint(items) {
				t.Errorf("dry run listed\n%v\nthe erasure did\n%v", dryItems, items)
			}
			byRecord := map[string]lethe.RequestItem{}
			for _, it := range items {
				byRecord[it.Collection+"/"+it.RecordID] = it
			}
			for _, r := range tc.records {
				it, ok := byRecord[r.collection+"/a-"+r.id]
				want := lethe.ActionDelete
				if containsStr(tc.held, r.collection) {
					want = lethe.ActionHold
				}
				if !ok || it.Action != want {
					t.Errorf("%s/a-%s: item %+v, want action %s", r.collection, r.id, it, want)
				}
				if want == lethe.ActionHold && it.Reason == "" {
					t.Errorf("%s/a-%s held without a reason", r.collection, r.id)
				}
				_, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: r.collection, ID: "a-" + r.id})
				if held := want == lethe.ActionHold; held != (err == nil) {
					t.Errorf("%s/a-%s after the erasure: err %v (held %v)", r.collection, r.id, err, held)
				}
				if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: r.collection, ID: "b-" + r.id}); err != nil {
					t.Errorf("the bystander's %s/b-%s: %v", r.collection, r.id, err)
				}
			}
			if len(items) != len(tc.records) {
				t.Errorf("the erasure touched %d records, want %d: %v", len(items), len(tc.records), items)
			}

			// Past every hold the sweeper ends what was held; then nothing
			// of the person is left anywhere.
			e.advance(11 * 366 * 24 * time.Hour)
			if _, err := e.eng.Sweep(e.ctx); err != nil {
				t.Fatal(err)
			}
			for kind, v := range subj.ids {
				if !kindOf(colls, kind) {
					continue
				}
				docs, err := e.eng.FindSubject(e.ctx, "t1", map[string]string{kind: v})
				if err != nil {
					t.Fatal(err)
				}
				if len(docs) != 0 {
					t.Errorf("lookup by %s still finds %d records", kind, len(docs))
				}
			}
			scanStore(t, e, subj.needles())
		})
	}
}

func mustCollections(t *testing.T, e *reqEnv) []*policy.Collection {
	t.Helper()
	cs, err := e.eng.Collections(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func linkFields(c *policy.Collection) []string {
	var out []string
	for _, f := range c.Fields {
		if f.Link != "" {
			out = append(out, f.Name)
		}
	}
	return out
}

// kindOf reports whether any collection indexes the identifier kind.
func kindOf(colls map[string]*policy.Collection, kind string) bool {
	for _, c := range colls {
		for _, f := range c.Fields {
			if f.Subject == kind {
				return true
			}
		}
	}
	return false
}

func exportBody(t *testing.T, e *reqEnv, id string) []byte {
	t.Helper()
	x, err := e.eng.OpenExport(e.ctx, "test", "t1", id, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scanStore looks for the needles in the clear where the store keeps its
// data: every byte of the SQLite files after a checkpoint, or every row of
// every table of the PostgreSQL database as text. (PostgreSQL keeps dead
// row versions until vacuum; those hold sealed values and blind indexes
// only, and plain personal fields such as a log's actor until then: see
// docs/reliability.md.)
func scanStore(t *testing.T, e *reqEnv, needles []string) {
	t.Helper()
	if err := e.store.Checkpoint(e.ctx); err != nil {
		t.Fatal(err)
	}
	var hay [][]byte
	names := []string{}
	if onPostgres() {
		conn, err := pgx.Connect(e.ctx, e.path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(e.ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			var text string
			if err := conn.QueryRow(e.ctx, fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n'), '') FROM %s t`, pgx.Identifier{tb}.Sanitize())).Scan(&text); err != nil {
				t.Fatal(err)
			}
			hay, names = append(hay, []byte(text)), append(names, "table "+tb)
		}
	} else {
		files, _ := filepath.Glob(filepath.Join(filepath.Dir(e.path), "*"))
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			hay, names = append(hay, b), append(names, filepath.Base(f))
		}
	}
	if len(hay) == 0 {
		t.Fatal("scan: nothing to scan")
	}
	for i, h := range hay {
		for _, n := range needles {
			if bytes.Contains(h, []byte(n)) {
				t.Errorf("%s holds %q in the clear", names[i], n)
			}
		}
	}
}
