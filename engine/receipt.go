package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// ReceiptAlgorithm names how receipts are signed: HMAC-SHA256 under the
// tenant's receipt key, over the compact JSON of the receipt member.
const ReceiptAlgorithm = "HMAC-SHA256"

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
	Signature string          `json:"signature"` // base64 (standard, padded)
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
	return signReceipt(run.keys, &rc)
}

func signReceipt(keys *keyring.TenantKeys, rc *Receipt) ([]byte, error) {
	body, err := json.Marshal(rc)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return json.MarshalIndent(SignedReceipt{Receipt: body, Algorithm: ReceiptAlgorithm,
		Signature: base64.StdEncoding.EncodeToString(keys.Sign(body))}, "", "  ")
}

// VerifyReceipt checks a signed receipt with its tenant's receipt key and
// returns the receipt. Whitespace outside strings may change (the
// signature covers the compact form); any other change fails with
// ErrReceiptInvalid.
func (e *Engine) VerifyReceipt(ctx context.Context, data []byte) (*Receipt, error) {
	var peek struct {
		Receipt struct {
			Tenant string `json:"tenant"`
		} `json:"receipt"`
	}
	if err := json.Unmarshal(data, &peek); err != nil || peek.Receipt.Tenant == "" {
		return nil, fmt.Errorf("%w: not a Lethe receipt (want a JSON object with receipt, alg and signature)", ErrReceiptInvalid)
	}
	if _, err := e.store.Tenant(ctx, peek.Receipt.Tenant); err != nil {
		if errors.Is(err, lethe.ErrNotFound) {
			return nil, fmt.Errorf("%w: tenant %q is unknown to this data", ErrReceiptInvalid, peek.Receipt.Tenant)
		}
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, peek.Receipt.Tenant)
	if err != nil {
		return nil, err
	}
	return verifyReceipt(keys, data)
}

func verifyReceipt(keys *keyring.TenantKeys, data []byte) (*Receipt, error) {
	var sr SignedReceipt
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReceiptInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the receipt", ErrReceiptInvalid)
	}
	if sr.Algorithm != ReceiptAlgorithm {
		return nil, fmt.Errorf("%w: algorithm %q, want %s", ErrReceiptInvalid, sr.Algorithm, ReceiptAlgorithm)
	}
	mac, err := base64.StdEncoding.DecodeString(sr.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrReceiptInvalid)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, sr.Receipt); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReceiptInvalid, err)
	}
	if !keys.Verify(body.Bytes(), mac) {
		return nil, fmt.Errorf("%w: the signature does not match: the receipt was altered or is not this tenant's", ErrReceiptInvalid)
	}
	var rc Receipt
	rd := json.NewDecoder(bytes.NewReader(body.Bytes()))
	rd.DisallowUnknownFields()
	if err := rd.Decode(&rc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReceiptInvalid, err)
	}
	if rc.Tenant != keys.Tenant() {
		return nil, fmt.Errorf("%w: the receipt names tenant %q", ErrReceiptInvalid, rc.Tenant)
	}
	return &rc, nil
}
