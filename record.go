package lethe

import (
	"fmt"
	"time"
)

// State is where a record stands in its life.
type State string

const (
	// StateActive: the record holds its personal data.
	StateActive State = "active"
	// StateAnonymized: the anonymization operators ran; what is left is
	// kept for statistics (O6) until a later rule deletes it.
	StateAnonymized State = "anonymized"
)

// Action is what a retention rule or a request does to a record.
type Action string

const (
	ActionNone      Action = ""
	ActionDelete    Action = "delete"
	ActionAnonymize Action = "anonymize"
	// ActionHold is a legal hold: the record must be kept until the hold
	// ends, whatever a request asks.
	ActionHold Action = "hold"
)

// Plan is a record's next retention step. It is computed whenever the
// record is written or the basis of one of its rules changes, and stored in
// indexed columns so that finding due work is an index range scan.
type Plan struct {
	Action Action    // ActionNone when nothing is planned
	Rule   string    // name of the rule that set the plan
	DueAt  time.Time // zero when nothing is planned
}

// Planned reports whether the plan holds an action.
func (p Plan) Planned() bool { return p.Action != ActionNone && !p.DueAt.IsZero() }

// Record is one stored document of a collection. Personal data never sits
// in Plain: every PII field value is sealed (encrypted) into Sealed, keyed by
// the field name, and identifiers a subject can be found by are kept only as
// keyed blind-index hashes in Subjects.
type Record struct {
	Tenant     string
	Collection string
	ID         string
	Origin     string // data origin, e.g. "amazon"; empty when unknown
	CreatedAt  time.Time
	UpdatedAt  time.Time
	State      State

	// Plain holds the non-PII field values as decoded JSON.
	Plain map[string]any
	// Sealed holds one ciphertext envelope per PII field (see docs/format.md).
	Sealed map[string][]byte
	// Subjects are the blind-index entries of the record's identifiers.
	Subjects []Subject
	// Embedding is the plain search vector of a record of a vectors
	// collection, in the vectors package's float32 encoding; nil for every
	// other record. It lives in the record's own row, so whatever deletes
	// the record (a request, a sweep, a tenant's removal) deletes it in the
	// same statement.
	Embedding []byte

	Plan Plan
}

// Subject is one blind-index entry: the kind of identifier (email, phone,
// customer_id, ...), the field it came from, and the keyed hash of its
// normalized value. The value itself is never stored in the clear.
type Subject struct {
	Kind  string
	Field string
	Hash  []byte
	// Unique asks the store to refuse a second record of the same tenant and
	// collection with the same kind and hash (C6: a voucher code once).
	Unique bool
}

// RecordRef names one record.
type RecordRef struct {
	Tenant, Collection, ID string
}

// Ref returns the record's reference.
func (r *Record) Ref() RecordRef { return RecordRef{r.Tenant, r.Collection, r.ID} }

// Tenant is one customer of the application: a Mandant, a bot, an ERP
// instance. Everything else belongs to exactly one tenant.
type Tenant struct {
	ID    string
	Packs []string
	// PhoneRegion is the region phone numbers without a country code are
	// read in (ISO 3166-1 alpha-2, "DE"): "06 12345678" is Dutch in NL.
	// It is fixed when the tenant is created (from the request, else its
	// packs, else DefaultPhoneRegion) so that a later pack release does
	// not change how its numbers are read.
	PhoneRegion string
	// SessionLifetime is how long a chat session token (and the chat state
	// the browser keeps with it) lives: 30m to 14d, zero for off, which is
	// the default, so that a tenant keeps nothing in browsers until it
	// chooses to (C13).
	SessionLifetime Duration
	// ChatOrigins are the web origins ("https://shop.example") whose pages
	// may call the chat's public routes from the browser; none by default.
	ChatOrigins []string
	CreatedAt   time.Time
}

// DefaultPhoneRegion is the phone region of a tenant that names none and
// whose packs name none, and of every tenant created before tenants had
// one.
const DefaultPhoneRegion = "DE"

// Settings are a tenant's choices for one collection, taken from the options
// the policy allows (C2, O7, X8).
type Settings struct {
	// Enabled is nil when the tenant never chose; the collection's default
	// applies then.
	Enabled *bool `json:"enabled,omitempty"`
	// Periods maps a rule name to the chosen period.
	Periods map[string]Duration `json:"periods,omitempty"`
	// Placeholder replaces names on anonymization (X7, X8).
	Placeholder string `json:"placeholder,omitempty"`
	// DropMetadata lists extra metadata keys removed on anonymization (O5).
	DropMetadata []string  `json:"drop_metadata,omitempty"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// Clone returns a deep copy, so that a cached value never changes under
// its readers.
func (s *Settings) Clone() *Settings {
	if s == nil {
		return nil
	}
	c := *s
	if s.Enabled != nil {
		v := *s.Enabled
		c.Enabled = &v
	}
	if s.Periods != nil {
		c.Periods = make(map[string]Duration, len(s.Periods))
		for k, v := range s.Periods {
			c.Periods[k] = v
		}
	}
	c.DropMetadata = append([]string(nil), s.DropMetadata...)
	return &c
}

// Storable checks what every store requires before it writes a record:
// tenant, collection and id, and a kind and hash for every subject.
func (r *Record) Storable() error {
	if r == nil || r.Tenant == "" || r.Collection == "" || r.ID == "" {
		return fmt.Errorf("%w: record needs tenant, collection and id", ErrInvalid)
	}
	for _, sub := range r.Subjects {
		if sub.Kind == "" || len(sub.Hash) == 0 {
			return fmt.Errorf("record %s/%s: %w: subject needs kind and hash", r.Collection, r.ID, ErrInvalid)
		}
	}
	return nil
}

// StoredRecord is a record as every store writes it: the plain fields
// encoded (EncodePlain), the sealed ones packed (EncodeSealed), and the
// state and times a caller may leave out filled in.
type StoredRecord struct {
	Origin           string
	State            State
	Plain            string
	Sealed           []byte
	Created, Updated time.Time
}

// Store checks that r can be stored (Storable) and encodes it. A zero
// CreatedAt is taken from now, a zero UpdatedAt from CreatedAt, an empty
// State is StateActive.
func (r *Record) Store(now func() time.Time) (StoredRecord, error) {
	if err := r.Storable(); err != nil {
		return StoredRecord{}, err
	}
	plain, err := EncodePlain(r.Plain)
	if err != nil {
		return StoredRecord{}, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
	}
	st := StoredRecord{
		Origin:  r.Origin,
		State:   r.State,
		Plain:   plain,
		Sealed:  EncodeSealed(r.Sealed),
		Created: r.CreatedAt,
		Updated: r.UpdatedAt,
	}
	if st.Created.IsZero() {
		st.Created = now()
	}
	if st.Updated.IsZero() {
		st.Updated = st.Created
	}
	if st.State == "" {
		st.State = StateActive
	}
	return st, nil
}
