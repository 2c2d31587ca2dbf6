// Package transittest serves the part of the Vault/OpenBao transit HTTP
// API that keyring.Transit uses (encrypt, decrypt, rewrap, read key,
// rotate, config, trim, AppRole login) on a loopback listener, for tests
// where no Vault server can be run. It follows the request and answer
// shapes of Vault's documented API (/v1/MOUNT/encrypt/KEY with base64
// plaintexts, "vault:vN:" ciphertexts, {"errors": [...]} on failure), and
// TestTransit_RealVault runs the same client against a real server when
// VAULT_ADDR is set.
package transittest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is a transit engine mounted at Mount with one key, Key.
type Server struct {
	*httptest.Server
	Mount, Key string
	Token      string
	// RoleID and SecretID are the AppRole credentials Login accepts.
	RoleID, SecretID string

	// Calls counts the transit calls answered (not logins).
	Calls atomic.Int64

	mu       sync.Mutex
	versions map[int]cipher.AEAD
	latest   int
	minDecr  int
	sealed   bool
	issued   map[string]bool
}

// New starts a server over TLS (its certificate in Server.Certificate())
// with a key of one version and a root token.
func New(tls bool) *Server {
	s := &Server{Mount: "transit", Key: "lethe", Token: "root-" + rand.Text(), RoleID: "role-" + rand.Text(), SecretID: rand.Text(),
		versions: map[int]cipher.AEAD{}, issued: map[string]bool{}}
	s.addVersion()
	s.minDecr = 1
	h := http.HandlerFunc(s.serve)
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	return s
}

// Seal makes every call answer 503, as a sealed Vault does; Unseal undoes it.
func (s *Server) Seal()   { s.mu.Lock(); s.sealed = true; s.mu.Unlock() }
func (s *Server) Unseal() { s.mu.Lock(); s.sealed = false; s.mu.Unlock() }

// Latest is the key's newest version.
func (s *Server) Latest() int { s.mu.Lock(); defer s.mu.Unlock(); return s.latest }

func (s *Server) addVersion() {
	k := make([]byte, 32)
	rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	s.latest++
	s.versions[s.latest] = g
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) authorized(r *http.Request) bool {
	tok := r.Header.Get("X-Vault-Token")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[tok]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	if sealed {
		fail(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	var in map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	if r.URL.Path == "/v1/auth/approle/login" {
		s.login(w, in)
		return
	}
	if !s.authorized(r) {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+s.Mount+"/")
	if !ok {
		fail(w, http.StatusNotFound, "no handler for route")
		return
	}
	s.Calls.Add(1)
	op, name, _ := strings.Cut(rest, "/")
	sub := ""
	if op == "keys" {
		name, sub, _ = strings.Cut(name, "/")
	}
	if name != s.Key {
		if op == "keys" && r.Method == http.MethodGet {
			fail(w, http.StatusNotFound, "")
			return
		}
		fail(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	str := func(k string) string { v, _ := in[k].(string); return v }
	num := func(k string) int { v, _ := in[k].(float64); return int(v) }
	switch {
	case op == "encrypt" && r.Method == http.MethodPost:
		pt, err := base64.StdEncoding.DecodeString(str("plaintext"))
		if err != nil {
			fail(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		answer(w, map[string]any{"data": map[string]any{"ciphertext": s.seal(s.latest, pt), "key_version": s.latest}})
	case op == "decrypt" && r.Method == http.MethodPost:
		pt, msg := s.open(str("ciphertext"))
		if msg != "" {
			fail(w, http.StatusBadRequest, msg)
			return
		}
		answer(w, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}})
	case op == "rewrap" && r.Method == http.MethodPost:
		pt, msg := s.open(str("ciphertext"))
		if msg != "" {
			fail(w, http.StatusBadRequest, msg)
			return
		}
		answer(w, map[string]any{"data": map[string]any{"ciphertext": s.seal(s.latest, pt), "key_version": s.latest}})
	case op == "keys" && sub == "" && r.Method == http.MethodGet:
		keys := map[string]int{}
		for v := range s.versions {
			keys[strconv.Itoa(v)] = 1
		}
		answer(w, map[string]any{"data": map[string]any{"name": s.Key, "type": "aes256-gcm96", "latest_version": s.latest,
			"min_decryption_version": s.minDecr, "min_encryption_version": 0, "keys": keys}})
	case op == "keys" && sub == "rotate" && r.Method == http.MethodPost:
		s.addVersion()
		w.WriteHeader(http.StatusNoContent)
	case op == "keys" && sub == "config" && r.Method == http.MethodPost:
		if v := num("min_decryption_version"); v > 0 {
			if v > s.latest {
				fail(w, http.StatusBadRequest, "cannot set min decryption version above latest")
				return
			}
			s.minDecr = v
		}
		w.WriteHeader(http.StatusNoContent)
	case op == "keys" && sub == "trim" && r.Method == http.MethodPost:
		v := num("min_available_version")
		if v < 1 || v > s.minDecr {
			fail(w, http.StatusBadRequest, "cannot be set higher than min_decryption_version")
			return
		}
		for old := range s.versions {
			if old < v {
				delete(s.versions, old)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		fail(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

func (s *Server) login(w http.ResponseWriter, in map[string]any) {
	role, _ := in["role_id"].(string)
	secret, _ := in["secret_id"].(string)
	if subtle.ConstantTimeCompare([]byte(role), []byte(s.RoleID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(s.SecretID)) != 1 {
		fail(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	tok := "s." + rand.Text()
	s.mu.Lock()
	s.issued[tok] = true
	s.mu.Unlock()
	answer(w, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": 3600, "renewable": true}})
}

// Revoke makes every token issued by AppRole login invalid (an expiry).
func (s *Server) Revoke() { s.mu.Lock(); s.issued = map[string]bool{}; s.mu.Unlock() }

func (s *Server) seal(v int, pt []byte) string {
	g := s.versions[v]
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return fmt.Sprintf("vault:v%d:%s", v, base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, pt, nil)))
}

func (s *Server) open(c string) ([]byte, string) {
	rest, ok := strings.CutPrefix(c, "vault:v")
	n, b64, ok2 := strings.Cut(rest, ":")
	v, err := strconv.Atoi(n)
	if !ok || !ok2 || err != nil {
		return nil, "invalid ciphertext: no prefix"
	}
	if v < s.minDecr {
		return nil, "ciphertext or signature version is disallowed by policy (too old)"
	}
	g := s.versions[v]
	if g == nil {
		return nil, "invalid key version"
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < g.NonceSize() {
		return nil, "invalid ciphertext: could not decode base64"
	}
	pt, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return nil, "cipher: message authentication failed"
	}
	return pt, ""
}

// URL returns the --master-key URL of this server's key: vault:// with
// its certificate written to dir as the trusted CA for a TLS server,
// vault+http:// otherwise.
func (s *Server) URL(dir string) (string, error) {
	host := strings.TrimPrefix(strings.TrimPrefix(s.Server.URL, "https://"), "http://")
	if s.Server.TLS == nil {
		return "vault+http://" + host + "/" + s.Mount + "/" + s.Key, nil
	}
	path := filepath.Join(dir, "vault-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return "", err
	}
	return "vault://" + host + "/" + s.Mount + "/" + s.Key + "?ca_cert=" + url.QueryEscape(path), nil
}
