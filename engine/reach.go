package engine

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
)

// maxReachRounds bounds how many times a subject's reach is widened. Each
// round follows one more step of links and same_person ties; real
// policies need two or three (an e-mail address, its variables, their
// device id, that device's messages). The bound only stops a pathological
// chain from running for ever; what was found by then is kept.
const maxReachRounds = 32

// hashBatch bounds the hashes of one index lookup, well below the bound
// parameters of SQLite and PostgreSQL.
const hashBatch = 500

// reach is everything a subject's identifiers lead to (G1, ADR 0013):
//
//   - every record holding one of the identifiers, at the top level or in
//     one of its lists;
//   - every record a policy link ties to a record that is the subject's
//     as a person (the messages and context of a session);
//   - and, for such records, the identifiers that their collection's
//     same_person ties to the ones found (the device id beside an e-mail
//     address in a chat's variables), followed in turn (see ownsAsPerson).
//
// A record is the subject's own when one of its top-level identifiers or
// links is in the reach; a record that holds an identifier only in a list
// (an additional contact person of another customer's order) is not, and
// nothing is followed from it. Everything goes through the blind index:
// no value is decrypted to decide.
type reach struct {
	keys map[string][]byte // kind + "\x00" + hash → hash, every key followed
	recs map[lethe.RecordRef]*lethe.Record
	// expanded marks owned records whose ties were followed.
	expanded map[lethe.RecordRef]bool
}

func reachKey(kind string, hash []byte) string { return kind + "\x00" + string(hash) }

// has reports whether the reach follows this index entry.
func (rc *reach) has(s lethe.Subject) bool {
	_, ok := rc.keys[reachKey(s.Kind, s.Hash)]
	return ok
}

// owns reports whether a top-level identifier or link of the record is in
// the reach.
//
// A value found in a text redacted on write counts too: the message is
// erased or exported whole, as the subject's, rather than rewritten like
// a list that names them among others.
func (rc *reach) owns(rec *lethe.Record) bool {
	for _, s := range rec.Subjects {
		_, found := findingsField(s.Field)
		if (found || !strings.Contains(s.Field, ".")) && rc.has(s) {
			return true
		}
	}
	return false
}

// ownsDirectly reports whether the record is the subject's through a
// top-level identifier of its own, not only through a value found in its
// text.
func (rc *reach) ownsDirectly(rec *lethe.Record) bool {
	for _, s := range rec.Subjects {
		if !strings.Contains(s.Field, ".") && rc.has(s) {
			return true
		}
	}
	return false
}

// ownsAsPerson reports whether the record is the subject's through a field
// that names the record's own person: one of its collection's same_person
// fields, a link, or any top-level identifier when the collection declares
// no same_person. Only such records are followed further: an order found by
// its invoice e-mail is erased with the subject, but the buyer's customer
// number on it does not lead to the buyer's other records.
func (rc *reach) ownsAsPerson(c *policy.Collection, rec *lethe.Record) bool {
	for _, s := range rec.Subjects {
		if strings.Contains(s.Field, ".") || !rc.has(s) {
			continue
		}
		if f := c.Field(s.Field); len(c.SamePerson) == 0 || containsString(c.SamePerson, s.Field) || (f != nil && f.Link != "") {
			return true
		}
	}
	return false
}

// matches reports whether any index entry of the record, list items
// included, is in the reach.
func (rc *reach) matches(rec *lethe.Record) bool {
	for _, s := range rec.Subjects {
		if rc.has(s) {
			return true
		}
	}
	return false
}

// identities lists the keys followed, sorted, for storing with a job.
func (rc *reach) identities() []lethe.ScopeIdentity {
	out := make([]lethe.ScopeIdentity, 0, len(rc.keys))
	for k, h := range rc.keys {
		kind, _, _ := strings.Cut(k, "\x00")
		out = append(out, lethe.ScopeIdentity{Kind: kind, Hash: h})
	}
	sortIdentities(out)
	return out
}

// records returns the records that match the reach, in (collection, id)
// order.
func (rc *reach) records() []*lethe.Record {
	out := make([]*lethe.Record, 0, len(rc.recs))
	for _, r := range rc.recs {
		if rc.matches(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return cursorLess(out[i].Collection, out[i].ID, out[j].Collection, out[j].ID) })
	return out
}

func sortIdentities(ids []lethe.ScopeIdentity) {
	sort.Slice(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return bytes.Compare(a.Hash, b.Hash) < 0
	})
}

// reachOf follows a subject's identifiers through the tenant's records to
// the end (see reach).
func (e *Engine) reachOf(ctx context.Context, ts *tenantState, keys *keyring.TenantKeys, tenant string, start []lethe.ScopeIdentity) (*reach, error) {
	rc := &reach{keys: map[string][]byte{}, recs: map[lethe.RecordRef]*lethe.Record{}, expanded: map[lethe.RecordRef]bool{}}
	linked := linkTargets(ts.set)
	var pending [][]byte
	add := func(kind string, h []byte) {
		k := reachKey(kind, h)
		if _, ok := rc.keys[k]; !ok {
			rc.keys[k] = h
			pending = append(pending, h)
		}
	}
	for _, id := range start {
		add(id.Kind, id.Hash)
	}
	for round := 0; len(pending) > 0; round++ {
		if round == maxReachRounds {
			e.log.Warn("subject reach: stopped widening after the round limit", "tenant", tenant, "rounds", maxReachRounds)
			break
		}
		recs, err := e.recordsBySubject(ctx, tenant, pending)
		if err != nil {
			return nil, err
		}
		pending = nil
		for _, r := range recs {
			if _, ok := rc.recs[r.Ref()]; !ok {
				rc.recs[r.Ref()] = r
			}
		}
		// A record fetched in an earlier round may become the subject's
		// own through a key found since: look at all of them again.
		for ref, r := range rc.recs {
			c := ts.set.Collection(r.Collection)
			if rc.expanded[ref] || c == nil || !rc.ownsAsPerson(c, r) {
				continue
			}
			rc.expanded[ref] = true
			for _, s := range r.Subjects {
				if containsString(c.SamePerson, s.Field) {
					add(s.Kind, s.Hash)
				}
			}
			if linked[r.Collection] {
				kind := policy.LinkKind(r.Collection)
				h, err := keys.BlindIndex(kind, r.ID)
				if err != nil {
					return nil, err
				}
				add(kind, h)
			}
		}
	}
	return rc, nil
}

// recordsBySubject looks hashes up in the index in batches.
func (e *Engine) recordsBySubject(ctx context.Context, tenant string, hashes [][]byte) ([]*lethe.Record, error) {
	var out []*lethe.Record
	for len(hashes) > 0 {
		n := min(len(hashes), hashBatch)
		recs, err := e.store.RecordsBySubject(ctx, tenant, hashes[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		hashes = hashes[n:]
	}
	return out, nil
}

// linkTargets names the collections some collection of the set links to.
func linkTargets(set *policy.Set) map[string]bool {
	out := map[string]bool{}
	for _, c := range set.Collections() {
		for _, f := range c.Fields {
			if f.Link != "" {
				out[f.Link] = true
			}
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
