package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/vectors"
)

// sealFields splits validated fields into the plain part and the sealed
// part. Each PII field is sealed on its own, bound to tenant, collection,
// record and field name (keyring.AD), so a ciphertext copied into another
// row, field or tenant does not open, and one field can be erased or
// anonymized without touching the others.
func sealFields(keys *keyring.TenantKeys, c *policy.Collection, ref lethe.RecordRef, fields map[string]any) (map[string]any, map[string][]byte, error) {
	plain := make(map[string]any, len(fields))
	var sealed map[string][]byte
	for name, v := range fields {
		f := c.Field(name)
		if f != nil && f.Type == policy.TypeVector {
			continue // its own column: lethe.Record.Embedding
		}
		_, found := findingsField(name)
		if !found && (f == nil || !f.IsPII()) {
			plain[name] = v
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s: %w", name, err)
		}
		env, err := keys.Seal(b, keyring.AD{Tenant: ref.Tenant, Collection: ref.Collection, Record: ref.ID, Field: name})
		if err != nil {
			return nil, nil, fmt.Errorf("seal %s/%s: %w", ref.Collection, name, err)
		}
		if sealed == nil {
			sealed = make(map[string][]byte)
		}
		sealed[name] = env
	}
	return plain, sealed, nil
}

// openFields decrypts a record's sealed fields and merges them with its
// plain fields.
func openFields(keys *keyring.TenantKeys, r *lethe.Record) (map[string]any, error) {
	out := make(map[string]any, len(r.Plain)+len(r.Sealed))
	for k, v := range r.Plain {
		out[k] = v
	}
	for name, env := range r.Sealed {
		b, err := keys.Open(env, keyring.AD{Tenant: r.Tenant, Collection: r.Collection, Record: r.ID, Field: name})
		if err != nil {
			return nil, fmt.Errorf("open %s/%s/%s: %w", r.Collection, r.ID, name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode %s/%s/%s: %w", r.Collection, r.ID, name, lethe.ErrCrypto)
		}
		out[name] = normalizeJSON(v)
	}
	if len(r.Embedding) > 0 {
		v, err := vectors.Decode(r.Embedding, len(r.Embedding)/4)
		if err != nil {
			return nil, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
		}
		out[policy.EmbeddingField] = v
	}
	return out, nil
}

// subjectsOf computes the blind-index entries of the given fields: one per
// field with a subject kind, one per link, and one per list item field
// with a subject kind (the e-mail of an additional contact person finds
// the order too).
//
// Every identifier that does not normalize is reported, joined.
func subjectsOf(keys *keyring.TenantKeys, c *policy.Collection, fields map[string]any) ([]lethe.Subject, error) {
	var out []lethe.Subject
	var errs []error
	for _, f := range c.Fields {
		if f.RedactOnWrite != "" {
			if v, ok := fields[findingsKey(f.Name)]; ok {
				out = append(out, findingSubjects(keys, findingsKey(f.Name), v)...)
			}
		}
		v, ok := fields[f.Name]
		if !ok {
			continue
		}
		if f.Subject != "" {
			s, ok := identifierText(v)
			if !ok || s == "" {
				continue
			}
			h, err := keys.BlindIndex(f.Subject, s)
			if err != nil {
				errs = append(errs, &lethe.FieldError{Field: "fields." + f.Name, Reason: fmt.Sprintf("not a valid %s: %v", f.Subject, err)})
			} else {
				out = append(out, lethe.Subject{Kind: f.Subject, Field: f.Name, Hash: h, Unique: f.Unique})
			}
		}
		if f.Link != "" {
			sub, err := linkSubject(keys, f, v)
			if err != nil {
				errs = append(errs, err)
			} else if sub != nil {
				out = append(out, *sub)
			}
		}
		items, _ := v.([]any)
		for _, it := range f.Items {
			if it.Subject == "" {
				continue
			}
			for i, raw := range items {
				m, _ := raw.(map[string]any)
				s, _ := identifierText(m[it.Name])
				if s == "" {
					continue
				}
				h, err := keys.BlindIndex(it.Subject, s)
				if err != nil {
					errs = append(errs, &lethe.FieldError{Field: fmt.Sprintf("fields.%s[%d].%s", f.Name, i, it.Name), Reason: fmt.Sprintf("not a valid %s: %v", it.Subject, err)})
					continue
				}
				out = append(out, lethe.Subject{Kind: it.Subject, Field: f.Name + "." + it.Name, Hash: h})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return dedupeSubjects(out), nil
}

// linkSubject indexes a link field: the id of the record this one belongs
// to, blind-indexed under the link's kind, so that a request reaching that
// record finds this one through the index like any identifier.
func linkSubject(keys *keyring.TenantKeys, f *policy.Field, v any) (*lethe.Subject, error) {
	id, ok := identifierText(v)
	if !ok || id == "" {
		return nil, nil
	}
	kind := policy.LinkKind(f.Link)
	h, err := keys.BlindIndex(kind, id)
	if err != nil {
		return nil, &lethe.FieldError{Field: "fields." + f.Name, Reason: fmt.Sprintf("not a record id of %s: %v", f.Link, err)}
	}
	return &lethe.Subject{Kind: kind, Field: f.Name, Hash: h}, nil
}

func dedupeSubjects(in []lethe.Subject) []lethe.Subject {
	out := in[:0]
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		k := s.Field + "\x00" + string(s.Hash)
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
