package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// Receipt signature algorithms (docs/format.md, section 6). Receipts are
// signed with the tenant's Ed25519 signing key, which anyone holding the
// published public key can check; receipts made before that carry an
// HMAC-SHA256 under the tenant's receipt key, which only the holder of the
// master key can check, and still verify with the data folder.
const (
	ReceiptAlgorithm     = "Ed25519"
	ReceiptAlgorithmHMAC = "HMAC-SHA256"
)

// maxReceiptHeld bounds the held records a receipt lists one by one; the
// count covers them all, and the job's items list every one.
const maxReceiptHeld = 1000

// Receipt is the record of a finished request: what was asked, the scope
// (identifiers only as blind-index hashes, never their values), what was
// done per collection and action, what a legal hold kept and why, and when.
type Receipt struct {
	Version     int                         `json:"version"`
	RequestID   string                      `json:"request_id"`
	Tenant      string                      `json:"tenant"`
	Type        lethe.RequestType           `json:"type"`
	DryRun      bool                        `json:"dry_run"`
	Scope       lethe.RequestScope          `json:"scope"`
	Counts      map[string]map[string]int64 `json:"counts"`
	HeldCount   int64                       `json:"held_count"`
	Held        []HeldRecord                `json:"held"`
	Warnings    []string                    `json:"warnings,omitempty"`
	RequestedAt time.Time                   `json:"requested_at"`
	FinishedAt  time.Time                   `json:"finished_at"`
}

// HeldRecord is a record a legal hold kept from a request.
type HeldRecord struct {
	Collection string    `json:"collection"`
	ID         string    `json:"id"`
	Reason     string    `json:"reason"`
	Until      time.Time `json:"until"`
}

// SignedReceipt is a receipt as stored and handed out: the receipt and its
// signature side by side, so that the file verifies on its own.
type SignedReceipt struct {
	Receipt   json.RawMessage `json:"receipt"`
	Algorithm string          `json:"alg"`
	// KeyID names the Ed25519 key (its JWK thumbprint, the kid of
	// GET /v1/receipt-keys); absent on HMAC receipts.
	KeyID     string `json:"kid,omitempty"`
	Signature string `json:"signature"` // base64 (standard, padded)
}

// ErrReceiptInvalid: a receipt does not verify (altered, truncated, or
// signed by another tenant's key). It matches lethe.ErrCrypto.
var ErrReceiptInvalid = fmt.Errorf("receipt does not verify: %w", lethe.ErrCrypto)

// receipt builds and signs a finished job's receipt.
func (e *Engine) receipt(ctx context.Context, run *jobRun, finished time.Time) ([]byte, error) {
	j := run.job
	rc := Receipt{Version: 1, RequestID: j.ID, Tenant: j.Tenant, Type: j.Type, DryRun: j.DryRun, Scope: j.Scope,
		Counts: run.res.Counts, Held: []HeldRecord{}, RequestedAt: j.CreatedAt, FinishedAt: finished,
		Warnings: originWarnings(run.ts, j, run.res.Counts)}
	if rc.Counts == nil {
		rc.Counts = map[string]map[string]int64{}
	}
	for _, byAction := range rc.Counts {
		rc.HeldCount += byAction[string(lethe.ActionHold)]
	}
	held, err := e.store.RequestItems(ctx, lethe.ItemQuery{Tenant: j.Tenant, Request: j.ID, Action: lethe.ActionHold, Limit: maxReceiptHeld})
	if err != nil {
		return nil, err
	}
	for _, it := range held {
		rc.Held = append(rc.Held, HeldRecord{Collection: it.Collection, ID: it.RecordID, Reason: it.Reason, Until: it.Until})
	}
	return signReceipt(ctx, run.keys, &rc)
}

func signReceipt(ctx context.Context, keys *keyring.TenantKeys, rc *Receipt) ([]byte, error) {
	body, err := json.Marshal(rc)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	kid, sig, err := keys.SignReceipt(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return json.MarshalIndent(SignedReceipt{Receipt: body, Algorithm: ReceiptAlgorithm, KeyID: kid,
		Signature: base64.StdEncoding.EncodeToString(sig)}, "", "  ")
}

// VerifyReceipt checks a signed receipt with its tenant's keys in this
// data and returns the receipt: an Ed25519 receipt with the tenant's
// public keys, an older HMAC receipt with its receipt key. Whitespace
// outside strings may change (the signature covers the compact form); any
// other change fails with ErrReceiptInvalid.
func (e *Engine) VerifyReceipt(ctx context.Context, data []byte) (*Receipt, error) {
	sr, body, err := parseSignedReceipt(data)
	if err != nil {
		return nil, err
	}
	var peek struct {
		Tenant string `json:"tenant"`
	}
	if err := json.Unmarshal(body, &peek); err != nil || peek.Tenant == "" {
		return nil, fmt.Errorf("%w: the receipt names no tenant", ErrReceiptInvalid)
	}
	if _, err := e.store.Tenant(ctx, peek.Tenant); err != nil {
		if errors.Is(err, lethe.ErrNotFound) {
			return nil, fmt.Errorf("%w: tenant %q is unknown to this data", ErrReceiptInvalid, peek.Tenant)
		}
		return nil, err
	}
	if sr.Algorithm == ReceiptAlgorithm {
		set, err := e.keys.ReceiptKeys(ctx, peek.Tenant)
		if err != nil {
			return nil, err
		}
		return verifyPublic(sr, body, set, peek.Tenant)
	}
	keys, err := e.keys.Tenant(ctx, peek.Tenant)
	if err != nil {
		return nil, err
	}
	mac, err := decodeSignature(sr.Signature)
	if err != nil {
		return nil, err
	}
	if !keys.Verify(body, mac) {
		return nil, fmt.Errorf("%w: the signature does not match: the receipt was altered or is not this tenant's", ErrReceiptInvalid)
	}
	return decodeReceipt(body, keys.Tenant())
}

// VerifyReceiptPublic checks an Ed25519 receipt with nothing but its
// tenant's published keys (the answer of GET /v1/receipt-keys?tenant=T),
// without the data or the master key. The set must be the receipt's
// tenant's: the receipt names its tenant, and a caller that fetched the
// set for another tenant gets ErrReceiptInvalid, as for any key not in it.
// HMAC receipts cannot be checked this way and are refused with a reason.
func VerifyReceiptPublic(data []byte, set keyring.JWKS, tenant string) (*Receipt, error) {
	sr, body, err := parseSignedReceipt(data)
	if err != nil {
		return nil, err
	}
	if sr.Algorithm == ReceiptAlgorithmHMAC {
		return nil, fmt.Errorf("%w: an %s receipt (made before receipts were signed with public keys) verifies only with the data folder", ErrReceiptInvalid, ReceiptAlgorithmHMAC)
	}
	return verifyPublic(sr, body, set, tenant)
}

// ReceiptTenant returns the tenant a receipt names, unverified: what a
// verifier needs to fetch that tenant's public keys.
func ReceiptTenant(data []byte) (string, error) {
	_, body, err := parseSignedReceipt(data)
	if err != nil {
		return "", err
	}
	var peek struct {
		Tenant string `json:"tenant"`
	}
	if err := json.Unmarshal(body, &peek); err != nil || peek.Tenant == "" {
		return "", fmt.Errorf("%w: the receipt names no tenant", ErrReceiptInvalid)
	}
	return peek.Tenant, nil
}

func verifyPublic(sr *SignedReceipt, body []byte, set keyring.JWKS, tenant string) (*Receipt, error) {
	pub, err := set.Key(sr.KeyID)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key %q is not among the public keys of tenant %q", ErrReceiptInvalid, sr.KeyID, tenant)
	}
	sig, err := decodeSignature(sr.Signature)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, body, sig) {
		return nil, fmt.Errorf("%w: the signature does not match: the receipt was altered or is not this tenant's", ErrReceiptInvalid)
	}
	return decodeReceipt(body, tenant)
}

// parseSignedReceipt reads the outer object strictly: exactly the members
// of its algorithm, names matched exactly (encoding/json alone would take
// "ALG" for "alg", so an altered file would still parse), nothing after
// it. It returns the compact receipt member, the bytes the signature
// covers.
func parseSignedReceipt(data []byte) (*SignedReceipt, []byte, error) {
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&members); err != nil || members == nil {
		return nil, nil, fmt.Errorf("%w: not a Lethe receipt (want a JSON object with receipt, alg and signature)", ErrReceiptInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: trailing data after the receipt", ErrReceiptInvalid)
	}
	var sr SignedReceipt
	str := func(name string, dst *string) error {
		raw, ok := members[name]
		if !ok {
			return fmt.Errorf("%w: member %q is missing", ErrReceiptInvalid, name)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%w: member %q is not a string", ErrReceiptInvalid, name)
		}
		return nil
	}
	if err := str("alg", &sr.Algorithm); err != nil {
		return nil, nil, err
	}
	want := []string{"receipt", "alg", "signature"}
	switch sr.Algorithm {
	case ReceiptAlgorithm:
		want = append(want, "kid")
		if err := str("kid", &sr.KeyID); err != nil {
			return nil, nil, err
		}
	case ReceiptAlgorithmHMAC:
	default:
		return nil, nil, fmt.Errorf("%w: algorithm %q, want %s or %s", ErrReceiptInvalid, sr.Algorithm, ReceiptAlgorithm, ReceiptAlgorithmHMAC)
	}
	for name := range members {
		if !slices.Contains(want, name) {
			return nil, nil, fmt.Errorf("%w: unknown member %q", ErrReceiptInvalid, name)
		}
	}
	if err := str("signature", &sr.Signature); err != nil {
		return nil, nil, err
	}
	raw, ok := members["receipt"]
	if !ok {
		return nil, nil, fmt.Errorf("%w: member \"receipt\" is missing", ErrReceiptInvalid)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrReceiptInvalid, err)
	}
	sr.Receipt = body.Bytes()
	return &sr, body.Bytes(), nil
}

// decodeSignature reads standard padded base64 strictly: a lenient decoder
// ignores the unused low bits of the last character, so a changed
// character could decode to the same signature.
func decodeSignature(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrReceiptInvalid)
	}
	return sig, nil
}

// decodeReceipt reads a verified receipt body and checks it is tenant's.
func decodeReceipt(body []byte, tenant string) (*Receipt, error) {
	var rc Receipt
	rd := json.NewDecoder(bytes.NewReader(body))
	rd.DisallowUnknownFields()
	if err := rd.Decode(&rc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReceiptInvalid, err)
	}
	if rc.Tenant != tenant {
		return nil, fmt.Errorf("%w: the receipt names tenant %q", ErrReceiptInvalid, rc.Tenant)
	}
	return &rc, nil
}

// ReceiptKeys returns the public keys a tenant's receipts are signed with,
// for GET /v1/receipt-keys: an empty set for a tenant that is unknown or
// has signed nothing yet, alike, so the answer does not tell tenants apart.
func (e *Engine) ReceiptKeys(ctx context.Context, tenant string) (keyring.JWKS, error) {
	return e.keys.ReceiptKeys(ctx, tenant)
}
