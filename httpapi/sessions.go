package httpapi

import (
	"net/http"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/sdk"
)

// sessionRoutes serve the browser chat (C13-C15). The application's
// backend mints a session token with a writer key and hands it to the
// page; the browser then calls only the two public routes, which take
// that token as their credential: it holds no API key. What a public
// route answers holds no personal data (neither the address it stored
// nor the variables).
func sessionRoutes() []route {
	return []route{
		{"POST", "/v1/tenants/{tenant}/sessions", writer, (*Server).mintSession},
		{"POST", "/v1/tenants/{tenant}/sessions/verify", writer, (*Server).verifySession},
		{"POST", "/v1/tenants/{tenant}/sessions/open", public, withChatCORS((*Server).openChat)},
		{"POST", "/v1/tenants/{tenant}/sessions/variables", public, withChatCORS((*Server).saveSessionVariables)},
		{"OPTIONS", "/v1/tenants/{tenant}/sessions/open", public, (*Server).chatPreflight},
		{"OPTIONS", "/v1/tenants/{tenant}/sessions/variables", public, (*Server).chatPreflight},
		{"POST", "/v1/tenants/{tenant}/session-keys", admin, (*Server).rotateSessionKey},
		{"GET", "/demo/chat", public, (*Server).demoPage},
		{"GET", "/demo/chat/lethe-chat.js", public, (*Server).demoScript},
		{"GET", "/demo/chat/demo.js", public, (*Server).demoApp},
	}
}

type tokenBody struct {
	Token string `json:"token"`
}

func decodeToken(r *http.Request) (string, error) {
	var body tokenBody
	if err := decode(r, &body); err != nil {
		return "", err
	}
	if body.Token == "" {
		return "", &lethe.FieldError{Field: "token", Reason: "send the session token the chat was given"}
	}
	return body.Token, nil
}

func (s *Server) mintSession(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	var body struct {
		Variables map[string]any `json:"variables"`
		Public    map[string]any `json:"public"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	m, err := s.eng.MintSession(r.Context(), r.PathValue("tenant"), engine.NewSession{Variables: body.Variables, Public: body.Public})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": m.Token, "session_id": m.ID, "expires_at": m.ExpiresAt})
	return nil
}

func (s *Server) verifySession(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tok, err := decodeToken(r)
	if err != nil {
		return err
	}
	c, err := s.eng.VerifySession(r.Context(), r.PathValue("tenant"), tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"session_id": c.ID, "tenant": c.Tenant, "issued_at": c.IssuedAt, "expires_at": c.ExpiresAt,
		"public": orEmpty(c.Public), "variables": orEmpty(c.Variables),
	})
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// openChat records that the chat was opened, with the caller's address:
// the SDK calls it when the customer opens the chat, never on load.
func (s *Server) openChat(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tok, err := decodeToken(r)
	if err != nil {
		return err
	}
	d, err := s.eng.OpenChat(r.Context(), r.PathValue("tenant"), tok, clientIP(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"session_id": d.Fields["session_id"], "delete_at": d.Plan.DueAt})
	return nil
}

// saveSessionVariables stores the session's variables for export (C5),
// read from the token, not from anything else the browser sends.
func (s *Server) saveSessionVariables(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tok, err := decodeToken(r)
	if err != nil {
		return err
	}
	d, err := s.eng.SaveSessionVariables(r.Context(), r.PathValue("tenant"), tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "delete_at": d.Plan.DueAt})
	return nil
}

func (s *Server) rotateSessionKey(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	kid, err := s.eng.RotateSessionKey(r.Context(), p.Name, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"kid": kid})
	return nil
}

// demoPage serves the demo chat. It takes its tenant and token from the
// URL fragment, which browsers never send, so no token reaches a log.
func (s *Server) demoPage(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	serveAsset(w, "text/html; charset=utf-8", sdk.DemoPage)
	return nil
}

func (s *Server) demoApp(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	serveAsset(w, "text/javascript; charset=utf-8", sdk.DemoScript)
	return nil
}

func (s *Server) demoScript(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	serveAsset(w, "text/javascript; charset=utf-8", sdk.Script)
	return nil
}

// serveAsset answers an embedded file with a policy that lets the page run
// its own scripts and talk to this server only.
func serveAsset(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// withChatCORS lets the pages of the tenant's chat origins read the
// answer of a public chat route (the widget runs on the customer's site,
// Lethe elsewhere). Only exact origins from the tenant's chat_origins are
// echoed; no credentials are allowed, since the token travels in the body.
// A page of another origin still reaches the route (a browser sends a
// simple request), but cannot send JSON without the preflight below and
// cannot read the answer.
func withChatCORS(h handler) handler {
	return func(s *Server, w http.ResponseWriter, r *http.Request, p engine.Principal) error {
		s.allowChatOrigin(w, r)
		return h(s, w, r, p)
	}
}

func (s *Server) allowChatOrigin(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if !s.eng.ChatOriginAllowed(r.Context(), r.PathValue("tenant"), origin) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return true
}

// chatPreflight answers a browser's CORS preflight for the public chat
// routes: 204 either way, with the allowing headers only for a chat origin
// of the tenant, so a refused origin learns nothing but "no".
func (s *Server) chatPreflight(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	if s.allowChatOrigin(w, r) {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
