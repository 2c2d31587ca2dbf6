package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// maxKeySet bounds a key set read from a file or a server: a tenant has a
// handful of keys, and a wrong URL must not fill memory.
const maxKeySet = 1 << 20

// loadKeySet reads a tenant's receipt keys from a JWKS file or from the
// URL of a server's /v1/receipt-keys. A URL without ?tenant= gets the
// receipt's tenant, so that the usual form is just the server's address
// and path.
func loadKeySet(ctx context.Context, src, tenant string) (keyring.JWKS, error) {
	var body []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		u, err := url.Parse(src)
		if err != nil {
			return keyring.JWKS{}, fmt.Errorf("--public-key %s: not a URL: %w", src, lethe.ErrInvalid)
		}
		if q := u.Query(); q.Get("tenant") == "" {
			q.Set("tenant", tenant)
			u.RawQuery = q.Encode()
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return keyring.JWKS{}, fmt.Errorf("--public-key %s: %w", src, lethe.ErrInvalid)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return keyring.JWKS{}, fmt.Errorf("fetch the receipt keys from %s: %v: %w", u.Redacted(), err, lethe.ErrUnavailable)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return keyring.JWKS{}, fmt.Errorf("fetch the receipt keys from %s: status %d: %w", u.Redacted(), res.StatusCode, lethe.ErrUnavailable)
		}
		if body, err = io.ReadAll(io.LimitReader(res.Body, maxKeySet+1)); err != nil {
			return keyring.JWKS{}, fmt.Errorf("fetch the receipt keys from %s: %v: %w", u.Redacted(), err, lethe.ErrUnavailable)
		}
	} else {
		f, err := os.Open(src)
		if err != nil {
			return keyring.JWKS{}, err
		}
		defer f.Close()
		if body, err = io.ReadAll(io.LimitReader(f, maxKeySet+1)); err != nil {
			return keyring.JWKS{}, err
		}
	}
	if len(body) > maxKeySet {
		return keyring.JWKS{}, fmt.Errorf("--public-key %s: larger than %d bytes, not a key set: %w", src, maxKeySet, lethe.ErrInvalid)
	}
	set, err := keyring.ParseJWKS(body)
	if err != nil {
		return keyring.JWKS{}, fmt.Errorf("--public-key %s: %w", src, err)
	}
	return set, nil
}
