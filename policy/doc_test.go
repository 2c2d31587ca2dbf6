package policy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/doc")

// The data-protection table of every pack is compared with a reviewed
// golden file, so that a change to a pack shows up as a change to the
// table customers read (C16). Run `go test ./policy -update` to accept one.
func TestWriteDoc_MatchesGoldenFile(t *testing.T) {
	for _, name := range PackNames() {
		t.Run(name, func(t *testing.T) {
			p, err := Pack(name)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteDoc(&buf, p); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "doc", name+".md")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("doc differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// The table follows the configuration: changing a rule's period in the
// policy changes the row, with nothing else to update.
func TestWriteDoc_FollowsTheConfiguration(t *testing.T) {
	p, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	c := p.Collection("live_chat_messages")
	c.Rules[0].Period = Period{Default: mustDur("30d"), Options: durs("7d", "30d")}
	c.Switchable = true
	var buf bytes.Buffer
	if err := WriteDoc(&buf, p); err != nil {
		t.Fatal(err)
	}
	row := lineWith(buf.String(), "| 1 | ")
	for _, want := range []string{"| 30 days (optional 7 days) |", "can be switched off (on by default)", "Encrypted: `session_id`, `device_id`, `message`, `ip_address`."} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
}

func TestWriteDoc_DescribesRulesAndPersonalData(t *testing.T) {
	tests := []struct {
		pack, collection string
		cells            []string
	}{
		{"chatbot", "automated_chat_messages", []string{"| 1 day |", "| Created at |"}},
		{"chatbot", "security_log", []string{"| Held for 365 days (legal hold) — Security log kept", "Deleted after 365 days |", "Not encrypted: `email`, `ip_address`, `occurred_at`."}},
		{"chatbot", "runtime_log", []string{"| 7 days (optional 30 days) |", "Encrypted: `email`, `message`. Not encrypted: `ip_address`."}},
		{"chatbot", "push_notifications", []string{"| Deleted at `due_at` |", "| `due_at` |"}},
		{"chatbot", "web_notifications", []string{"Deleted at `received_at` or after 7 days (optional 30, 60, 90, 180 days), whichever comes first",
			"`received_at` (delete_on_receipt), Created at (delete)"}},
		{"chatbot", "variables", []string{"Deleted at `expires_at` or after 60 days (optional 30, 90, 180, 360 days), whichever comes first",
			"can be switched off (on by default)"}},
		{"conversations", "contexts", []string{"| 1 hour (optional 5, 15, 30 minutes, 2, 6, 12, 24 hours) |", "| Last update |"}},
		{"erp-marketplace", "orders", []string{"Anonymized after 30 days for records from amazon", "Deleted after 10 years", "`shipped_at` (anonymize), Created at (delete)"}},
		{"erp-marketplace", "archived_documents", []string{"Held for 10 years (legal hold) — Retention of invoicing documents under AO, UStG and HGB. Deleted after 10 years |", "cannot be switched off"}},
	}
	for _, tt := range tests {
		t.Run(tt.collection, func(t *testing.T) {
			p, err := Pack(tt.pack)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteDoc(&buf, p); err != nil {
				t.Fatal(err)
			}
			row := lineWith(buf.String(), "(`"+tt.collection+"`) |")
			for _, want := range tt.cells {
				if !strings.Contains(row, want) {
					t.Errorf("row %q lacks %q", row, want)
				}
			}
		})
	}
}

func lineWith(doc, sub string) string {
	for _, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// A field redacted on write says so in the policy doc, with its mode.
func TestWriteDoc_SaysWhichTextsAreStoredRedacted(t *testing.T) {
	data, err := os.ReadFile("testdata/good/redact_on_write.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("redact_on_write.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if f := p.Collection("chat_messages").Field("text"); f.RedactOnWrite != RedactTag {
		t.Fatalf("redact_on_write = %q, want tag", f.RedactOnWrite)
	}
	var buf bytes.Buffer
	if err := WriteDoc(&buf, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `text` | text | encrypted; stored redacted (tags), the values found sealed apart |",
		"| `note` | text | encrypted; stored redacted (masked), the values found sealed apart |",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("doc lacks %q:\n%s", want, buf.String())
		}
	}
}
