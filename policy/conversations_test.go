package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-privacy/lethe"
)

// O5, field by field: what the platform does to messages and sessions
// when it anonymizes them.
func TestConversationsPack_AnonymizesAsTheSeedSays(t *testing.T) {
	p, err := Pack("conversations")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection, field string
		op                Operator
		pii               bool
	}{
		{"sessions", "conversation_id", OpUUID, true},   // identifier becomes a uuid
		{"sessions", "channel", OpErase, true},          // messenger user id, names
		{"sessions", "metadata", OpErase, true},         // all session metadata removed
		{"sessions", "last_activity_at", OpKeep, false}, // plain basis of the delete rule
		{"messages", "session_id", OpKeep, false},
		{"messages", "sender", OpKeep, false},
		{"messages", "text", OpReplace, true},
		{"messages", "intent", OpKeep, false}, // not PII, kept for statistics (O1, O6)
		{"messages", "entities", OpErase, true},
		{"messages", "tokens", OpErase, true},
		{"messages", "context", OpErase, true},
		{"messages", "new_context", OpErase, true},
		{"messages", "metadata", OpDropKeys, true}, // the keys the bot is configured to drop
		{"contexts", "session_id", OpKeep, false},
		{"contexts", "state", OpErase, true},
	}
	for _, tt := range tests {
		t.Run(tt.collection+"."+tt.field, func(t *testing.T) {
			c := p.Collection(tt.collection)
			if c == nil {
				t.Fatalf("no collection %s", tt.collection)
			}
			f := c.Field(tt.field)
			if f == nil {
				t.Fatalf("no field %s", tt.field)
			}
			if f.Anonymize != tt.op {
				t.Errorf("anonymize = %q, want %q", f.Anonymize, tt.op)
			}
			if f.IsPII() != tt.pii {
				t.Errorf("PII = %v, want %v", f.IsPII(), tt.pii)
			}
		})
	}
	if got := p.Collection("messages").Field("text").Value; got != "This message has been deleted" {
		t.Errorf("text replacement = %q", got)
	}
	if got := p.Collection("sessions").Field("conversation_id").Subject; got != "conversation_id" {
		t.Errorf("conversation_id subject = %q", got)
	}
	var names []string
	for _, c := range p.Collections {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"sessions", "messages", "contexts"}, names); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}
}

// O3, O4: the periods a bot may choose, capped at three years; sessions
// are deleted by inactivity, messages by age; the context by its TTL.
func TestConversationsPack_Rules(t *testing.T) {
	p, err := Pack("conversations")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection, rule string
		action           lethe.Action
		basis, deflt     string
		max              string
	}{
		{"sessions", "anonymize", lethe.ActionAnonymize, "created_at", "30d", "3y"},
		{"sessions", "delete", lethe.ActionDelete, "last_activity_at", "1y", "3y"},
		{"messages", "anonymize", lethe.ActionAnonymize, "created_at", "30d", "3y"},
		{"messages", "delete", lethe.ActionDelete, "created_at", "1y", "3y"},
		{"contexts", "delete", lethe.ActionDelete, "updated_at", "1h", "24h"},
	}
	for _, tt := range tests {
		t.Run(tt.collection+"/"+tt.rule, func(t *testing.T) {
			r := p.Collection(tt.collection).Rule(tt.rule)
			if r == nil {
				t.Fatalf("no rule %s", tt.rule)
			}
			got := []string{string(r.Action), r.Basis, r.Period.Default.String(), r.Period.Max.String()}
			want := []string{string(tt.action), tt.basis, tt.deflt, tt.max}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("action, basis, default, max (-want +got):\n%s", diff)
			}
			if len(r.Period.Options) < 2 {
				t.Errorf("options = %v: a bot must be able to choose", r.Period.Options)
			}
		})
	}
}
