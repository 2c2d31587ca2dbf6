// Package policy describes what an application stores and how long it may
// live: collections, their fields (which are PII, which identify a subject,
// how each is anonymized) and their retention rules. Policies are YAML
// files; the packs shipped in the binary (chatbot, conversations,
// erp-marketplace) are policies too.
package policy

import (
	"github.com/lethe-privacy/lethe"
)

// Policy is a catalogue of collections, loaded from one YAML document.
type Policy struct {
	Version     int    `yaml:"version"`
	Name        string `yaml:"name"`        // pack name, e.g. "chatbot"
	Title       string `yaml:"title"`       // human title for docs
	Description string `yaml:"description"` // where the policy comes from
	// PhoneRegion is the region phone numbers without a country code are
	// read in for tenants that use this pack and name no region of their
	// own ("DE" for a German shop); empty when the pack has no opinion.
	PhoneRegion string        `yaml:"phone_region"`
	Collections []*Collection `yaml:"collections"`
}

// Collection is one storage kind (seed 000's "Speicheroptionen"), document
// type (seed 002's Belegarten) or conversation store (seed 001).
type Collection struct {
	Name        string `yaml:"name"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"` // what it is for ("Funktionalität")
	// Requirement says when the collection is needed, as the data-protection
	// table prints it ("required when the live chat module is used").
	Requirement string `yaml:"requirement"`
	// Switchable: a tenant may switch the collection off (C2). Collections
	// that are not switchable are always on.
	Switchable bool `yaml:"switchable"`
	// EnabledByDefault applies to switchable collections a tenant never
	// configured.
	EnabledByDefault bool     `yaml:"enabled_by_default"`
	Fields           []*Field `yaml:"fields"`
	Rules            []*Rule  `yaml:"rules"`
	// SamePerson names identifier fields that always name one person: a
	// request that finds a record by one of them follows the others too
	// (the variables of a chat tie its e-mail address to its device id).
	// Fields left out are not followed, because they may name someone
	// else: an order's invoice e-mail can be an accountant's. See ADR 0013.
	SamePerson []string `yaml:"same_person"`
	// Kind is KindRecords (the default, also when empty) or KindVectors: a
	// collection of chunks for retrieval, each with a plain embedding of
	// Dimension float32 values in its field "embedding" and a payload
	// (chunk text, source, metadata) sealed like any PII field. See ADR 0019.
	Kind Kind `yaml:"kind"`
	// Dimension is the length of every embedding of a vectors collection,
	// fixed by the embedding model the application uses.
	Dimension int `yaml:"dimension"`

	// Pack is set by the loader to the policy's name.
	Pack string `yaml:"-"`
}

// Kind says what a collection holds.
type Kind string

const (
	KindRecords Kind = "records"
	KindVectors Kind = "vectors"
)

// EmbeddingField is the one vector field of a vectors collection.
const EmbeddingField = "embedding"

// IsVectors reports whether the collection holds embeddings for retrieval.
func (c *Collection) IsVectors() bool { return c.Kind == KindVectors }

// MaxDimension bounds a collection's embedding length: the largest models
// in use produce 3072 values; 4096 leaves room without letting one record
// carry megabytes of floats.
const MaxDimension = 4096

// FieldType is the JSON shape a field's value must have.
type FieldType string

const (
	TypeString    FieldType = "string"
	TypeText      FieldType = "text" // free text; may later be redacted (G5)
	TypeInteger   FieldType = "integer"
	TypeNumber    FieldType = "number"
	TypeBoolean   FieldType = "boolean"
	TypeTimestamp FieldType = "timestamp" // RFC 3339 or Unix seconds; stored as RFC 3339 UTC
	TypeDate      FieldType = "date"      // a calendar day, YYYY-MM-DD
	// TypeID is an identifier or document number: a string or an integer,
	// stored as given, because ERPs send customer and document numbers as
	// JSON numbers (1001) as often as as strings ("K-1001").
	TypeID     FieldType = "id"
	TypeObject FieldType = "object" // free JSON object (metadata)
	// TypeJSON is any JSON value (object, list, string, number, boolean):
	// free-form data such as NLU entities and tokens, whose shape the
	// application does not control.
	TypeJSON FieldType = "json"
	TypeList FieldType = "list" // list of objects described by Items
	// TypeVector is the embedding of a vectors collection: a list of
	// numbers of the collection's dimension, stored as float32 in a column
	// of its own, in plain, because it is the search index.
	TypeVector FieldType = "vector"
)

// Operator is how a field is anonymized (seed 001's O5, seed 002's X7/X11).
type Operator string

const (
	OpKeep        Operator = "keep"        // kept (statistics, O6; plz/ort, X7)
	OpErase       Operator = "erase"       // field removed; a list is dropped whole
	OpClear       Operator = "clear"       // value replaced by "", the key stays
	OpReplace     Operator = "replace"     // replaced by the field's Value
	OpPlaceholder Operator = "placeholder" // replaced by the tenant's placeholder
	OpUUID        Operator = "uuid"        // replaced by a fresh random UUID
	OpDropKeys    Operator = "drop_keys"   // object: drops Keys and the tenant's drop_metadata keys
	OpEach        Operator = "each"        // list: items kept, each item's fields anonymized by their own operators
	// OpRedact keeps a text with the personal data found in it replaced
	// (package redact): a chat message stays readable for statistics and
	// review, the e-mail, phone, IBAN, names in it do not (G5).
	OpRedact Operator = "redact"
)

// Field is one field of a collection.
type Field struct {
	Name        string    `yaml:"name"`
	Type        FieldType `yaml:"type"`
	Description string    `yaml:"description"`
	// PII fields are sealed (encrypted) at rest. A list is PII when any of
	// its item fields is.
	PII bool `yaml:"pii"`
	// Subject names the kind of identifier (email, phone, customer_id,
	// device_id, ...) the field holds: its normalized value is blind-indexed
	// so that the subject can be found (G1). Implies PII, unless the field
	// is Personal: then it stays plain and is indexed all the same (the
	// security log's actor e-mail, C4).
	Subject string `yaml:"subject"`
	// Link names the collection of the record this one belongs to: the
	// field holds that record's id (a message's session). Lookups, exports,
	// erasures and anonymizations that reach the record reach this one
	// too. The id is blind-indexed under the link, never compared in the
	// clear.
	Link string `yaml:"link"`
	// Unique: at most one record of the collection per value (C6).
	Unique bool `yaml:"unique"`
	// Anonymize is the operator applied on anonymization; default erase for
	// PII fields and keep for the others.
	Anonymize Operator `yaml:"anonymize"`
	Value     string   `yaml:"value"` // replacement text for OpReplace
	Keys      []string `yaml:"keys"`  // keys dropped by OpDropKeys
	Items     []*Field `yaml:"items"` // item fields of a list
	Required  bool     `yaml:"required"`
	// Personal marks a plain (not encrypted) field that still holds personal
	// data, such as the security log's actor e-mail, which stays readable on
	// purpose so that patterns can be detected (C4). The data-protection
	// table lists it as "not encrypted", and anonymization erases it by
	// default like a PII field.
	Personal bool `yaml:"personal"`
	// Redact is how OpRedact replaces what it finds: tag (<EMAIL>, the
	// default), hash (<EMAIL:3f9a...>, keyed per tenant, so the same
	// address is recognizable within the tenant) or mask (****).
	Redact string `yaml:"redact"`
	// RedactOnWrite (tag or mask) redacts the text before it is stored:
	// the field holds only the text with its findings replaced, and the
	// values found are sealed apart in the record, so that the subject's
	// e-mail or phone in a chat message still finds the message (blind
	// index) and goes with it into an export, but no read shows them.
	// Empty: the text is stored as written. See ADR 0025.
	RedactOnWrite string `yaml:"redact_on_write"`
}

// Rule is one retention rule of a collection.
type Rule struct {
	// Name identifies the rule in tenant settings ("periods": {name: ...});
	// defaults to the action.
	Name   string       `yaml:"name"`
	Action lethe.Action `yaml:"action"` // delete, anonymize or hold
	// Basis is the timestamp the period counts from: created_at,
	// updated_at, or a timestamp field (last_activity_at, shipped_at,
	// due_at, expires_at, received_at). A record whose basis is unset has no
	// plan for this rule yet.
	Basis  string `yaml:"basis"`
	Period Period `yaml:"period"`
	// When restricts the rule to some records (origin amazon, a field set).
	When *Condition `yaml:"when"`
	// Reason explains the rule, above all a legal hold (AO, UStG, HGB).
	Reason string `yaml:"reason"`
}

// Period is a rule's length: the default, the options a tenant may choose
// instead, and the maximum any choice may reach.
type Period struct {
	Default lethe.Duration   `yaml:"default"`
	Options []lethe.Duration `yaml:"options"`
	Max     lethe.Duration   `yaml:"max"`
}

// Condition restricts a rule. All given parts must hold.
type Condition struct {
	Origin  []string `yaml:"origin"`  // the record's origin is one of these
	Present []string `yaml:"present"` // these fields are set
}

// Collection returns the policy's collection of that name, or nil.
func (p *Policy) Collection(name string) *Collection {
	for _, c := range p.Collections {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Field returns the collection's field of that name, or nil.
func (c *Collection) Field(name string) *Field {
	for _, f := range c.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Rule returns the collection's rule of that name, or nil.
func (c *Collection) Rule(name string) *Rule {
	for _, r := range c.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// IsPII reports whether the field's value is sealed at rest.
func (f *Field) IsPII() bool {
	if f.PII || (f.Subject != "" && !f.Personal) {
		return true
	}
	for _, it := range f.Items {
		if it.IsPII() {
			return true
		}
	}
	return false
}

// LinkKind is the blind-index kind under which records linking to a record
// of collection target are indexed. The prefix keeps link kinds apart from
// identifier kinds, which are lower_snake names.
func LinkKind(target string) string { return "link:" + target }

// IsPersonal reports whether the field holds personal data, sealed or not:
// the fields the data-protection table lists.
func (f *Field) IsPersonal() bool { return f.Personal || f.IsPII() }

// The modes of OpRedact (Field.Redact). Sealing is none of them: an
// anonymized text must not be restorable, not even by its tenant.
const (
	RedactTag  = "tag"
	RedactHash = "hash"
	RedactMask = "mask"
)

// RedactModes lists the modes of OpRedact, the default first.
var RedactModes = []string{RedactTag, RedactHash, RedactMask}

// RedactOnWriteModes lists the modes of Field.RedactOnWrite. Hash is not
// one: a writer could store a guessed address and read its keyed tag back,
// which would make every hashed anonymized text of the tenant confirmable.
var RedactOnWriteModes = []string{RedactTag, RedactMask}
