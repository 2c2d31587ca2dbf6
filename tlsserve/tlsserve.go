// Package tlsserve provides the TLS settings of lethe serve: a certificate
// reloaded in place (SIGHUP) without dropping open connections, a
// self-signed certificate for a first try, TLS 1.2 as the floor with an
// explicit list of forward-secret AEAD suites, the HSTS header, and the rule
// that plain HTTP is served on loopback only unless asked for.
//
// It depends on the standard library alone, so the API, the metrics
// listener and any later listener share one set of rules.
package tlsserve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/lethe-privacy/lethe"
)

// CipherSuites is the TLS 1.2 list: ECDHE key exchange with AES-GCM or
// ChaCha20-Poly1305 only. Go's defaults still accept CBC-SHA1 suites for
// TLS 1.2; TLS 1.3 suites are not configurable and are all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// CipherSuites returns a copy of the TLS 1.2 suites served.
func CipherSuites() []uint16 { return append([]uint16(nil), cipherSuites...) }

// Certificate holds the served certificate behind an atomic pointer, so a
// reload swaps it for new handshakes while established connections keep
// the one they were made with.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads a PEM certificate chain and its key.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On failure the certificate served stays
// the previous one: a bad file on disk does not take the server down.
func (c *Certificate) Reload() error {
	if c.certFile == "" || c.keyFile == "" {
		return fmt.Errorf("%w: a TLS certificate needs both --tls-cert and --tls-key", lethe.ErrInvalid)
	}
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("%w: TLS certificate %s: %v", lethe.ErrInvalid, c.certFile, err)
	}
	c.cur.Store(&kp)
	return nil
}

// Current is the certificate new handshakes get.
func (c *Certificate) Current() *tls.Certificate { return c.cur.Load() }

// Config is the server configuration: TLS 1.2 at least, the suites of
// CipherSuites, the certificate read through c at every handshake.
func (c *Certificate) Config() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: CipherSuites(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// HSTSValue is sent on every TLS response: two years, subdomains included.
// Browsers ignore it on plain HTTP, so it is only sent over TLS.
const HSTSValue = "max-age=63072000; includeSubDomains"

// HSTS adds the Strict-Transport-Security header to responses h writes
// over TLS.
func HSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", HSTSValue)
		}
		h.ServeHTTP(w, r)
	})
}

// ErrPlainHTTP is returned for plain HTTP on an address that is not
// loopback without the explicit opt-in.
var ErrPlainHTTP = errors.New("plain HTTP is served on loopback only")

// CheckPlain reports whether addr (HOST:PORT as configured) may be served
// without TLS: a loopback host may; any other, the empty host and 0.0.0.0
// included, only when insecure is set. flag names the opt-in for the
// message.
func CheckPlain(addr string, insecure bool, flag string) error {
	if insecure || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: %w: %s is not a loopback address; give --tls-cert and --tls-key (or --tls-self-signed), or %s to serve without TLS", lethe.ErrInvalid, ErrPlainHTTP, addr, flag)
}

// IsLoopback reports whether the host of addr is a loopback address or
// "localhost". An unparsable or empty host is not loopback: fail closed.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
