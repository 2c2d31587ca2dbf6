package keyring

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Transit is a master key held by HashiCorp Vault's (or OpenBao's) transit
// secrets engine: the key never leaves the server, which encrypts and
// decrypts tenant keys for Lethe. It speaks the five transit calls Lethe
// needs (encrypt, decrypt, rewrap, read key, rotate) and AppRole login
// over net/http: the official client would bring a dozen modules for them.
// It implements Master and Rewrapper.
//
// A wrapped key is Vault's ciphertext ("vault:v3:..."); its kekID is
// "vault:MOUNT/KEY:v3", so counts per master key version come from the
// keys table alone.
type Transit struct {
	base      *url.URL // scheme://host:port
	mount     string
	name      string
	http      *http.Client
	opts      MasterOptions
	namespace string

	mu      sync.Mutex
	token   string
	latest  int
	minDecr int
}

var (
	_ Master    = (*Transit)(nil)
	_ Rewrapper = (*Transit)(nil)
)

// transitTimeout bounds each call: a key service slower than this is
// treated as unreachable, so a request fails (or is served from cached
// keys) instead of hanging.
const transitTimeout = 10 * time.Second

// OpenTransit connects to the transit key a vault:// or vault+http:// URL
// names (HOST:PORT/MOUNT/KEY), logs in when AppRole credentials are given,
// and reads the key's versions. An unreachable server fails with
// lethe.ErrUnavailable, a missing key or a refused token with
// ErrWrongMasterKey: either way nothing has been written anywhere.
func OpenTransit(ctx context.Context, u *url.URL, opts MasterOptions) (*Transit, error) {
	path := strings.Trim(u.Path, "/")
	mount, name, ok := cutLast(path, "/")
	if !ok || mount == "" || name == "" || u.Host == "" {
		return nil, fmt.Errorf("master key URL %s: want %s://HOST:PORT/MOUNT/KEY: %w", u.Redacted(), u.Scheme, lethe.ErrInvalid)
	}
	t := &Transit{mount: mount, name: name, opts: opts, token: opts.VaultToken, namespace: opts.VaultNamespace}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	switch u.Scheme {
	case "vault":
		t.base = &url.URL{Scheme: "https", Host: u.Host}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := u.Query().Get("ca_cert"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("master key URL: ca_cert: %v: %w", err, lethe.ErrInvalid)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("master key URL: ca_cert %s holds no PEM certificate: %w", ca, lethe.ErrInvalid)
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	case "vault+http":
		// The token travels in every request: in the clear only to this
		// machine (a dev server, or an agent listening on loopback).
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("master key URL: vault+http:// only to a loopback address (use vault:// for TLS), not %s: %w", host, lethe.ErrInvalid)
		}
		t.base = &url.URL{Scheme: "http", Host: u.Host}
	default:
		return nil, fmt.Errorf("master key URL: scheme %s: %w", u.Scheme, lethe.ErrInvalid)
	}
	t.http = &http.Client{Transport: tr, Timeout: transitTimeout}
	if t.token == "" {
		if opts.VaultRoleID == "" || opts.VaultSecretID == "" {
			return nil, fmt.Errorf("%w: Vault master key %s: no token ($VAULT_TOKEN) and no AppRole ($VAULT_ROLE_ID, $VAULT_SECRET_ID)", ErrWrongMasterKey, t.Describe())
		}
		if err := t.login(ctx); err != nil {
			return nil, err
		}
	}
	if err := t.readKey(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Describe names the server and key, never the token.
func (t *Transit) Describe() string {
	return fmt.Sprintf("Vault transit key %s/%s at %s", t.mount, t.name, t.base)
}

// String keeps a logged Transit from printing its token.
func (t *Transit) String() string { return "Transit(" + t.Describe() + ")" }

// GoString keeps %#v from printing the token.
func (t *Transit) GoString() string { return t.String() }

func (t *Transit) idOf(version int) string {
	return "vault:" + t.mount + "/" + t.name + ":v" + strconv.Itoa(version)
}

// versionOf parses a kekID of this key; ok is false for another key's.
func (t *Transit) versionOf(kekID string) (int, bool) {
	rest, ok := strings.CutPrefix(kekID, "vault:"+t.mount+"/"+t.name+":v")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(rest)
	return v, err == nil && v > 0
}

// ID is the current version's id, as of the last read of the key.
func (t *Transit) ID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.idOf(t.latest)
}

// Knows reports whether kekID is a version of this key that Vault still
// decrypts with (as of the last read of the key).
func (t *Transit) Knows(kekID string) bool {
	v, ok := t.versionOf(kekID)
	t.mu.Lock()
	defer t.mu.Unlock()
	return ok && v >= t.minDecr && v <= t.latest
}

// Wrap asks Vault to encrypt a tenant key with the key's latest version.
func (t *Transit) Wrap(ctx context.Context, dek []byte) ([]byte, string, error) {
	var out struct {
		Ciphertext string `json:"ciphertext"`
		KeyVersion int    `json:"key_version"`
	}
	err := t.call(ctx, http.MethodPost, "encrypt/"+t.name, map[string]string{"plaintext": base64.StdEncoding.EncodeToString(dek)}, &out)
	if err != nil {
		return nil, "", fmt.Errorf("wrap: %w", err)
	}
	v, err := ciphertextVersion(out.Ciphertext)
	if err != nil {
		return nil, "", fmt.Errorf("wrap: %w", err)
	}
	t.noteVersion(v)
	return []byte(out.Ciphertext), t.idOf(v), nil
}

// Unwrap asks Vault to decrypt a tenant key. A kekID of another key, or
// a ciphertext Vault cannot open, gives ErrWrongMasterKey.
func (t *Transit) Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error) {
	if err := t.checkOwn(wrapped, kekID); err != nil {
		return nil, err
	}
	var out struct {
		Plaintext string `json:"plaintext"`
	}
	if err := t.call(ctx, http.MethodPost, "decrypt/"+t.name, map[string]string{"ciphertext": string(wrapped)}, &out); err != nil {
		return nil, fmt.Errorf("unwrap: %w", err)
	}
	dek, err := base64.StdEncoding.DecodeString(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("unwrap: Vault answered a plaintext that is not base64: %w", lethe.ErrCrypto)
	}
	return dek, nil
}

// Rewrap asks Vault to move a wrapped key to the latest version; the
// tenant key is never in this process's memory.
func (t *Transit) Rewrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, string, error) {
	if err := t.checkOwn(wrapped, kekID); err != nil {
		return nil, "", err
	}
	var out struct {
		Ciphertext string `json:"ciphertext"`
	}
	if err := t.call(ctx, http.MethodPost, "rewrap/"+t.name, map[string]string{"ciphertext": string(wrapped)}, &out); err != nil {
		return nil, "", fmt.Errorf("rewrap: %w", err)
	}
	v, err := ciphertextVersion(out.Ciphertext)
	if err != nil {
		return nil, "", fmt.Errorf("rewrap: %w", err)
	}
	t.noteVersion(v)
	return []byte(out.Ciphertext), t.idOf(v), nil
}

func (t *Transit) checkOwn(wrapped []byte, kekID string) error {
	v, ok := t.versionOf(kekID)
	if !ok {
		return fmt.Errorf("%w: key was wrapped by %q, not by %s", ErrWrongMasterKey, kekID, t.Describe())
	}
	if cv, err := ciphertextVersion(string(wrapped)); err != nil || cv != v {
		return fmt.Errorf("unwrap: wrapped key does not match its version %s: %w", kekID, lethe.ErrCrypto)
	}
	return nil
}

// Rotate asks Vault for a new key version and reads the key again.
func (t *Transit) Rotate(ctx context.Context) (string, error) {
	if err := t.call(ctx, http.MethodPost, "keys/"+t.name+"/rotate", struct{}{}, nil); err != nil {
		return "", fmt.Errorf("rotate master key: %w", err)
	}
	if err := t.readKey(ctx); err != nil {
		return "", err
	}
	return t.ID(), nil
}

// Versions lists the versions Vault still decrypts with.
func (t *Transit) Versions(ctx context.Context) ([]string, error) {
	if err := t.readKey(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for v := t.minDecr; v <= t.latest; v++ {
		out = append(out, t.idOf(v))
	}
	return out, nil
}

// Destroy raises the key's minimum decryption version above kekID's and
// trims the versions below it: Vault can only let the oldest versions go,
// so every version up to kekID goes with it. The caller has checked that
// no wrapped key uses any of them.
func (t *Transit) Destroy(ctx context.Context, kekID string) error {
	v, ok := t.versionOf(kekID)
	if !ok {
		return fmt.Errorf("destroy %s: not a version of %s: %w", kekID, t.Describe(), lethe.ErrNotFound)
	}
	if err := t.readKey(ctx); err != nil {
		return err
	}
	t.mu.Lock()
	latest, minDecr := t.latest, t.minDecr
	t.mu.Unlock()
	switch {
	case v >= latest:
		return fmt.Errorf("destroy %s: it is the current version; rotate first: %w", kekID, lethe.ErrConflict)
	case v < minDecr:
		return fmt.Errorf("destroy %s: destroyed already: %w", kekID, lethe.ErrNotFound)
	}
	if err := t.call(ctx, http.MethodPost, "keys/"+t.name+"/config", map[string]int{"min_decryption_version": v + 1}, nil); err != nil {
		return fmt.Errorf("destroy %s: %w", kekID, err)
	}
	if err := t.call(ctx, http.MethodPost, "keys/"+t.name+"/trim", map[string]int{"min_available_version": v + 1}, nil); err != nil {
		return fmt.Errorf("destroy %s: trim: %w", kekID, err)
	}
	return t.readKey(ctx)
}

func (t *Transit) readKey(ctx context.Context) error {
	var out struct {
		LatestVersion        int `json:"latest_version"`
		MinDecryptionVersion int `json:"min_decryption_version"`
	}
	if err := t.call(ctx, http.MethodGet, "keys/"+t.name, nil, &out); err != nil {
		return fmt.Errorf("%s: %w", t.Describe(), err)
	}
	if out.LatestVersion < 1 {
		return fmt.Errorf("%w: %s has no version", ErrWrongMasterKey, t.Describe())
	}
	t.mu.Lock()
	t.latest, t.minDecr = out.LatestVersion, max(out.MinDecryptionVersion, 1)
	t.mu.Unlock()
	return nil
}

func (t *Transit) noteVersion(v int) {
	t.mu.Lock()
	t.latest = max(t.latest, v)
	t.mu.Unlock()
}

// ciphertextVersion reads N from "vault:vN:...".
func ciphertextVersion(c string) (int, error) {
	rest, ok := strings.CutPrefix(c, "vault:v")
	if !ok {
		return 0, fmt.Errorf("not a transit ciphertext: %w", lethe.ErrCrypto)
	}
	n, _, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("transit ciphertext without a version: %w", lethe.ErrCrypto)
	}
	return v, nil
}

func (t *Transit) login(ctx context.Context) error {
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	body := map[string]string{"role_id": t.opts.VaultRoleID, "secret_id": t.opts.VaultSecretID}
	if err := t.do(ctx, http.MethodPost, "/v1/auth/approle/login", "", body, &out); err != nil {
		return fmt.Errorf("%s: AppRole login: %w", t.Describe(), err)
	}
	if out.Auth.ClientToken == "" {
		return fmt.Errorf("%w: %s: AppRole login answered no token", ErrWrongMasterKey, t.Describe())
	}
	t.mu.Lock()
	t.token = out.Auth.ClientToken
	t.mu.Unlock()
	return nil
}

// call runs one transit call and decodes its "data" into out. With
// AppRole, a refused token (expired) is renewed by one new login.
func (t *Transit) call(ctx context.Context, method, path string, in, out any) error {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	t.mu.Lock()
	token := t.token
	t.mu.Unlock()
	err := t.do(ctx, method, "/v1/"+t.mount+"/"+path, token, in, &env)
	if errors.Is(err, errTransitDenied) && t.opts.VaultToken == "" {
		if err = t.login(ctx); err == nil {
			t.mu.Lock()
			token = t.token
			t.mu.Unlock()
			err = t.do(ctx, method, "/v1/"+t.mount+"/"+path, token, in, &env)
		}
	}
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s answered %s: %v: %w", t.Describe(), path, err, lethe.ErrUnavailable)
	}
	return nil
}

var errTransitDenied = errors.New("permission denied")

// maxTransitAnswer bounds what a key service may answer.
const maxTransitAnswer = 1 << 20

// do sends one request. Errors say which kind: the server cannot be
// reached or answers 5xx/429 (lethe.ErrUnavailable: retry later, cached
// keys go on serving); it refuses the token or knows no such key, or
// cannot decrypt (ErrWrongMasterKey: a wrong configuration, retrying does
// not help).
func (t *Transit) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base.String()+path, body)
	if err != nil {
		return fmt.Errorf("%w: %v", lethe.ErrInvalid, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if t.namespace != "" {
		req.Header.Set("X-Vault-Namespace", t.namespace)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("master key service unreachable: %v: %w", err, lethe.ErrUnavailable)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTransitAnswer))
	if err != nil {
		return fmt.Errorf("master key service: %v: %w", err, lethe.ErrUnavailable)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("master key service answered %d: %v: %w", resp.StatusCode, err, lethe.ErrUnavailable)
		}
		return nil
	}
	var e struct {
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(data, &e) // a body that is not Vault's: the status says enough
	msg := strings.Join(e.Errors, "; ")
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("master key service answered %d %s: %w", resp.StatusCode, msg, lethe.ErrUnavailable)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w: %s refused the token (%d %s)", ErrWrongMasterKey, errTransitDenied, t.Describe(), resp.StatusCode, msg)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s does not exist (%s)", ErrWrongMasterKey, t.Describe(), msg)
	}
	return fmt.Errorf("%w: %s: %d %s: %w", ErrWrongMasterKey, t.Describe(), resp.StatusCode, msg, lethe.ErrCrypto)
}
