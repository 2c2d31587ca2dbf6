package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/session"
)

// The collections the browser chat writes to: the openings of the webchat
// pack (C15) and the exportable variables of the chatbot pack (C5).
const (
	CollectionChatOpenings = "chat_openings"
	CollectionVariables    = "variables"
)

// NewSession is what a chat session token is minted from.
type NewSession struct {
	// Variables are sealed inside the token (personal data, or anything
	// the browser need not read).
	Variables map[string]any
	// Public variables are readable in the token by anyone holding it.
	Public map[string]any
}

// MaxSessionVariables bounds the JSON of a token's variables, sealed and
// public together: the token travels with every call of the chat and sits
// in localStorage, where browsers allow a few megabytes per origin in all.
const MaxSessionVariables = 8 << 10

// MintedSession is a freshly signed session token.
type MintedSession struct {
	Token     string
	ID        string
	ExpiresAt time.Time
}

// MintSession signs a session token for the tenant, valid for the
// tenant's session lifetime. A tenant with the lifetime at 0 (the
// default) has tokens off, and minting is refused with a conflict that
// says how to switch them on: a chat of such a tenant keeps no state.
func (e *Engine) MintSession(ctx context.Context, tenant string, ns NewSession) (*MintedSession, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	life := ts.tenant.SessionLifetime
	if life.IsZero() {
		return nil, &lethe.ConflictError{What: fmt.Sprintf("tenant %s has session tokens off (session_lifetime 0); set a session_lifetime from %s to %s first", tenant, session.MinLifetime, session.MaxLifetime), Err: lethe.ErrConflict}
	}
	if n := jsonSize(ns.Variables) + jsonSize(ns.Public); n > MaxSessionVariables {
		return nil, &lethe.FieldError{Field: "variables", Reason: fmt.Sprintf("%d bytes of JSON with the public variables; at most %d fit in a session token", n, MaxSessionVariables)}
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	now := e.now()
	c := session.Claims{ID: session.NewID(), IssuedAt: now, ExpiresAt: life.After(now), Public: ns.Public, Variables: ns.Variables}
	tok, err := session.Mint(ctx, keys, c)
	if err != nil {
		return nil, err
	}
	return &MintedSession{Token: tok, ID: c.ID, ExpiresAt: c.ExpiresAt}, nil
}

func jsonSize(m map[string]any) int {
	if len(m) == 0 {
		return 0
	}
	b, err := json.Marshal(m)
	if err != nil {
		return MaxSessionVariables + 1 // not JSON: refused as too large to say more
	}
	return len(b)
}

// VerifySession checks a token of the tenant statelessly (signature, key,
// tenant, expiry; see session.Verify) and returns its claims with the
// sealed variables opened. A refused token wraps session.ErrRefused.
func (e *Engine) VerifySession(ctx context.Context, tenant, token string) (*session.Claims, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		if errors.Is(err, lethe.ErrNotFound) {
			// An unknown tenant is a refused token, like a wrong one: the
			// public routes must not tell which tenants exist.
			return nil, fmt.Errorf("%w: signed by no key of this tenant", session.ErrRefused)
		}
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if errors.Is(err, lethe.ErrNotFound) {
		return nil, fmt.Errorf("%w: signed by no key of this tenant", session.ErrRefused)
	}
	if err != nil {
		return nil, err
	}
	return session.Verify(ctx, keys, token, e.now())
}

// OpenChat records that the chat of a session was opened, with the
// address it was opened from: the only moment the server learns the
// customer's IP address (C15). Loading the widget calls nothing. The
// entry goes to chat_openings (webchat pack), deleted 30 days later; one
// entry per session, so opening the chat again after a reload stores the
// address no second time and does not extend its 30 days.
func (e *Engine) OpenChat(ctx context.Context, tenant, token, ip string) (*Doc, error) {
	c, err := e.VerifySession(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, fmt.Errorf("open chat: client address %q: %w", ip, lethe.ErrInvalid)
	}
	if _, _, err := e.collection(ctx, tenant, CollectionChatOpenings); err != nil {
		return nil, &lethe.ConflictError{What: fmt.Sprintf("tenant %s has no %s collection: create it with the webchat pack to record chat openings", tenant, CollectionChatOpenings), Err: err}
	}
	id := "open-" + c.ID
	docs, err := e.Put(ctx, tenant, CollectionChatOpenings, []NewRecord{{
		ID:     id,
		Fields: map[string]any{"session_id": c.ID, "ip_address": addr.Unmap().String(), "opened_at": e.now().Format(time.RFC3339Nano)},
	}})
	if errors.Is(err, lethe.ErrConflict) {
		return e.existing(ctx, lethe.RecordRef{Tenant: tenant, Collection: CollectionChatOpenings, ID: id})
	}
	if err != nil {
		return nil, err
	}
	return docs[0], nil
}

// SaveSessionVariables stores the variables of a session for export (C5,
// "download variables"), taken from the token alone: what the browser
// sends is only the token, so a chat cannot put words into a customer's
// export that the application did not sign. Subject identifiers among the
// variables (email, device_id, customer_id) index the record, so a
// request by any of them finds it. A second call for the session replaces
// the values.
func (e *Engine) SaveSessionVariables(ctx context.Context, tenant, token string) (*Doc, error) {
	c, err := e.VerifySession(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	_, coll, err := e.collection(ctx, tenant, CollectionVariables)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for k, v := range c.Public {
		values[k] = v
	}
	for k, v := range c.Variables {
		values[k] = v
	}
	fields := map[string]any{"values": values}
	for _, name := range []string{"email", "device_id", "customer_id"} {
		if v, ok := values[name].(string); ok && v != "" && coll.Field(name) != nil {
			fields[name] = v
		}
	}
	id := "session-" + c.ID
	docs, err := e.Put(ctx, tenant, CollectionVariables, []NewRecord{{ID: id, Fields: fields}})
	if errors.Is(err, lethe.ErrConflict) {
		return e.Patch(ctx, lethe.RecordRef{Tenant: tenant, Collection: CollectionVariables, ID: id}, fields)
	}
	if err != nil {
		return nil, err
	}
	return docs[0], nil
}

// existing reads a record the caller just failed to create because it
// exists, without a read entry in the manager log: nothing is shown to a
// person.
func (e *Engine) existing(ctx context.Context, ref lethe.RecordRef) (*Doc, error) {
	r, err := e.store.Record(ctx, ref)
	if err != nil {
		return nil, err
	}
	return e.doc(ctx, r)
}

// ChatChange is a change of a tenant's chat settings; nil members stay
// as they are.
type ChatChange struct {
	// Lifetime of session tokens and of the state browsers keep with
	// them: 30m to 14d, zero for off.
	Lifetime *lethe.Duration
	// Origins whose pages may call the chat's public routes (CORS).
	Origins *[]string
}

// maxChatOrigins bounds a tenant's origin list: a handful of shops, not a
// wildcard spelled out.
const maxChatOrigins = 20

// SetChat changes the tenant's chat settings. Tokens already issued keep
// the expiry they were signed with.
func (e *Engine) SetChat(ctx context.Context, actor, tenant string, ch ChatChange) (*lethe.Tenant, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	life, origins := ts.tenant.SessionLifetime, ts.tenant.ChatOrigins
	if ch.Lifetime != nil {
		if err := session.CheckLifetime(*ch.Lifetime); err != nil {
			return nil, err
		}
		life = *ch.Lifetime
	}
	if ch.Origins != nil {
		if origins, err = checkOrigins(*ch.Origins); err != nil {
			return nil, err
		}
	}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "tenant.update", map[string]any{
		"session_lifetime": life.String(), "chat_origins": origins,
		"was": map[string]any{"session_lifetime": ts.tenant.SessionLifetime.String(), "chat_origins": ts.tenant.ChatOrigins},
	}); err != nil {
		return nil, err
	}
	if err := e.store.SetTenantChat(ctx, tenant, life, origins); err != nil {
		return nil, err
	}
	t, err := e.store.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return e.cacheTenant(t, ts.set).tenant, nil
}

// RotateSessionKey makes a new session key version sign the tenant's new
// tokens; tokens of the older versions verify until they expire.
func (e *Engine) RotateSessionKey(ctx context.Context, actor, tenant string) (string, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return "", err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return "", err
	}
	kid, err := keys.RotateSessionKey(ctx)
	if err != nil {
		return "", err
	}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "session_key.rotate", map[string]any{"kid": kid}); err != nil {
		return "", err
	}
	return kid, nil
}

// checkOrigins reads a list of web origins as browsers send them in the
// Origin header: scheme, host and port only, https, or http on localhost
// for development. Each is compared exactly, so no pattern or "*" is taken:
// a wildcard would let any page spend the tenant's tokens.
func checkOrigins(in []string) ([]string, error) {
	if len(in) > maxChatOrigins {
		return nil, &lethe.FieldError{Field: "chat_origins", Reason: fmt.Sprintf("%d origins; at most %d", len(in), maxChatOrigins)}
	}
	var out []string
	for i, o := range in {
		u, err := url.Parse(o)
		field := fmt.Sprintf("chat_origins[%d]", i)
		if err != nil || u.Host == "" || u.Scheme+"://"+u.Host != o || u.User != nil {
			return nil, &lethe.FieldError{Field: field, Reason: fmt.Sprintf("%q: want an origin such as https://shop.example (scheme, host, optional port; no path)", o)}
		}
		local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"
		if u.Scheme != "https" && !(u.Scheme == "http" && local) {
			return nil, &lethe.FieldError{Field: field, Reason: fmt.Sprintf("%q: https only (http on localhost)", o)}
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// ChatOriginAllowed reports whether a page of origin may call the
// tenant's public chat routes. An unknown tenant allows none.
func (e *Engine) ChatOriginAllowed(ctx context.Context, tenant, origin string) bool {
	ts, err := e.tenant(ctx, tenant)
	return err == nil && origin != "" && slices.Contains(ts.tenant.ChatOrigins, origin)
}
