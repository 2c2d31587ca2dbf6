package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/session"
)

func TestMintSession_RefusedWhileLifetimeIsOff(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot", "webchat"}); err != nil {
		t.Fatal(err)
	}
	_, err := env.eng.MintSession(env.ctx, "bot", engineNewSession())
	var ce *lethe.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.What, "session_lifetime") {
		t.Fatalf("mint with tokens off: %v, want a conflict naming session_lifetime", err)
	}
}

func TestSetSessionLifetime_ValidatesAndTokensExpireWithIt(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot", "webchat"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"29m", "15d", "1y"} {
		_, err := env.eng.SetChat(env.ctx, "admin", "bot", lifetime(bad))
		var fe *lethe.FieldError
		if !errors.As(err, &fe) || fe.Field != "session_lifetime" {
			t.Errorf("lifetime %s: %v, want a session_lifetime field error", bad, err)
		}
	}
	tn, err := env.eng.SetChat(env.ctx, "admin", "bot", lifetime("30m"))
	if err != nil || tn.SessionLifetime.String() != "30m" {
		t.Fatalf("set 30m: %v, %v", tn, err)
	}
	big := engine.NewSession{Variables: map[string]any{"blob": strings.Repeat("x", engine.MaxSessionVariables)}}
	var fe *lethe.FieldError
	if _, err := env.eng.MintSession(env.ctx, "bot", big); !errors.As(err, &fe) || fe.Field != "variables" {
		t.Errorf("oversized variables: %v, want a variables field error", err)
	}
	m, err := env.eng.MintSession(env.ctx, "bot", engineNewSession())
	if err != nil {
		t.Fatal(err)
	}
	if want := testStart.Add(30 * time.Minute); !m.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", m.ExpiresAt, want)
	}
	c, err := env.eng.VerifySession(env.ctx, "bot", m.Token)
	if err != nil || c.ID != m.ID || c.Variables["email"] != "eve.canary@example.org" {
		t.Fatalf("verify: %+v, %v", c, err)
	}
	env.clock.Set(testStart.Add(30*time.Minute + time.Second))
	if _, err := env.eng.VerifySession(env.ctx, "bot", m.Token); !errors.Is(err, session.ErrRefused) {
		t.Fatalf("verify after the lifetime: %v, want refused", err)
	}
	if _, err := env.eng.VerifySession(env.ctx, "nobody", m.Token); !errors.Is(err, session.ErrRefused) {
		t.Fatalf("verify for an unknown tenant: %v, want refused", err)
	}
}

// Opening the chat stores the address once per session, due for deletion
// 30 days later, and reaches the address's subject index.
func TestOpenChat_StoresTheAddressOnceFor30Days(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot", "webchat"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.SetChat(env.ctx, "admin", "bot", lifetime("1d")); err != nil {
		t.Fatal(err)
	}
	m, err := env.eng.MintSession(env.ctx, "bot", engineNewSession())
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.eng.OpenChat(env.ctx, "bot", m.Token, "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if d.Fields["ip_address"] != "203.0.113.9" || d.Fields["session_id"] != m.ID {
		t.Errorf("fields %v", d.Fields)
	}
	if want := testStart.Add(30 * 24 * time.Hour); d.Plan.Action != lethe.ActionDelete || !d.Plan.DueAt.Equal(want) {
		t.Errorf("plan %+v, want delete at %v", d.Plan, want)
	}
	raw, err := env.store.Record(env.ctx, lethe.RecordRef{Tenant: "bot", Collection: "chat_openings", ID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, plain := raw.Plain["ip_address"]; plain || len(raw.Sealed["ip_address"]) == 0 {
		t.Errorf("the address is not sealed at rest: plain %v", raw.Plain)
	}
	env.clock.Set(testStart.Add(time.Hour))
	again, err := env.eng.OpenChat(env.ctx, "bot", m.Token, "198.51.100.4")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != d.ID || again.Fields["ip_address"] != "203.0.113.9" || !again.Plan.DueAt.Equal(d.Plan.DueAt) {
		t.Errorf("second open: %+v, want the first entry unchanged", again)
	}
	found, err := env.eng.FindSubject(env.ctx, "bot", map[string]string{"ip_address": "203.0.113.9"})
	if err != nil || len(found) != 1 || found[0].ID != d.ID {
		t.Fatalf("subject by address: %v, %v", found, err)
	}
	if _, err := env.eng.OpenChat(env.ctx, "bot", m.Token+"x", "203.0.113.9"); !errors.Is(err, session.ErrRefused) {
		t.Errorf("open with a tampered token: %v, want refused", err)
	}
}

func TestOpenChat_RefusedWithoutTheWebchatPack(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.SetChat(env.ctx, "admin", "bot", lifetime("1h")); err != nil {
		t.Fatal(err)
	}
	m, err := env.eng.MintSession(env.ctx, "bot", engineNewSession())
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.eng.OpenChat(env.ctx, "bot", m.Token, "203.0.113.9")
	var ce *lethe.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.What, "webchat") {
		t.Fatalf("open without the pack: %v, want a conflict naming the webchat pack", err)
	}
}

// C5: the variables stored for export are the token's, found by the
// e-mail address among them.
func TestSaveSessionVariables_TakesThemFromTheToken(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot", "webchat"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.SetChat(env.ctx, "admin", "bot", lifetime("1h")); err != nil {
		t.Fatal(err)
	}
	m, err := env.eng.MintSession(env.ctx, "bot", engineNewSession())
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.eng.SaveSessionVariables(env.ctx, "bot", m.Token)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := d.Fields["values"].(map[string]any)
	if vals["email"] != "eve.canary@example.org" || vals["lang"] != "de" || d.Fields["email"] != "eve.canary@example.org" {
		t.Fatalf("fields %v", d.Fields)
	}
	if _, err := env.eng.SaveSessionVariables(env.ctx, "bot", m.Token); err != nil {
		t.Fatalf("second save: %v", err)
	}
	found, err := env.eng.FindSubject(env.ctx, "bot", map[string]string{"email": "EVE.canary@example.org"})
	if err != nil || len(found) != 1 || found[0].ID != d.ID {
		t.Fatalf("subject by e-mail: %v, %v", found, err)
	}
}

func engineNewSession() engine.NewSession {
	return engine.NewSession{Variables: map[string]any{"email": "eve.canary@example.org"}, Public: map[string]any{"lang": "de"}}
}

func lifetime(s string) engine.ChatChange {
	d := lethe.MustDuration(s)
	return engine.ChatChange{Lifetime: &d}
}

func TestSetChat_OriginsAreExactWebOrigins(t *testing.T) {
	env := newTestEnv(t, 0)
	if _, err := env.eng.CreateTenant(env.ctx, "admin", "bot", []string{"chatbot", "webchat"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"*", "https://shop.example/", "https://shop.example/chat", "http://shop.example", "shop.example", "https://user@shop.example", ""} {
		_, err := env.eng.SetChat(env.ctx, "admin", "bot", engine.ChatChange{Origins: &[]string{bad}})
		var fe *lethe.FieldError
		if !errors.As(err, &fe) || fe.Field != "chat_origins[0]" {
			t.Errorf("origin %q: %v, want a chat_origins[0] field error", bad, err)
		}
	}
	ok := []string{"https://shop.example", "http://localhost:8080", "https://shop.example"}
	tn, err := env.eng.SetChat(env.ctx, "admin", "bot", engine.ChatChange{Origins: &ok})
	if err != nil || len(tn.ChatOrigins) != 2 {
		t.Fatalf("set origins: %v, %v", tn, err)
	}
	if !env.eng.ChatOriginAllowed(env.ctx, "bot", "https://shop.example") || env.eng.ChatOriginAllowed(env.ctx, "bot", "https://evil.example") || env.eng.ChatOriginAllowed(env.ctx, "nobody", "https://shop.example") {
		t.Error("origin check")
	}
	// Changing the lifetime keeps the origins.
	if tn, err = env.eng.SetChat(env.ctx, "admin", "bot", lifetime("1h")); err != nil || len(tn.ChatOrigins) != 2 || tn.SessionLifetime.String() != "1h" {
		t.Fatalf("lifetime change: %+v, %v", tn, err)
	}
}
