package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// serveTLS starts a real HTTPS server on loopback with a self-signed
// certificate in a temporary folder.
func serveTLS(t *testing.T) (addr string, c *Certificate, dir string) {
	t.Helper()
	dir = t.TempDir()
	cf, kf, err := SelfSigned(dir, "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err = LoadCertificate(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})), TLSConfig: c.Config()}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), c, dir
}

func pool(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in", certFile)
	}
	return p
}

func TestHandshakeServesHSTS(t *testing.T) {
	addr, _, dir := serveTLS(t)
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(t, filepath.Join(dir, SelfSignedCert))}}}
	res, err := cl.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != HSTSValue {
		t.Fatalf("HSTS = %q, want %q", got, HSTSValue)
	}
	// The certificate also names localhost.
	_, port, _ := net.SplitHostPort(addr)
	res2, err := cl.Get("https://localhost:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
}

func TestHandshakeRefused(t *testing.T) {
	addr, _, _ := serveTLS(t)
	tests := []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.1", &tls.Config{MaxVersion: tls.VersionTLS11}},
		{"TLS 1.0", &tls.Config{MaxVersion: tls.VersionTLS10}},
		{"TLS 1.2 CBC-SHA1", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}}},
		{"TLS 1.2 CBC-SHA256", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.Clone()
			cfg.InsecureSkipVerify = true
			conn, err := tls.Dial("tcp", addr, cfg)
			if err == nil {
				conn.Close()
				t.Fatalf("handshake accepted: version %x suite %x", conn.ConnectionState().Version, conn.ConnectionState().CipherSuite)
			}
		})
	}
	// The control: TLS 1.2 with an AEAD suite is accepted.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
	if err != nil {
		t.Fatalf("TLS 1.2 GCM refused: %v", err)
	}
	conn.Close()
}

func TestReloadKeepsOpenConnection(t *testing.T) {
	addr, c, dir := serveTLS(t)
	before := Fingerprint(c)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 1}
	cl := &http.Client{Transport: tr}
	get := func() string {
		res, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return leafFingerprint(res.TLS.PeerCertificates[0].Raw)
	}
	if got := get(); got != before {
		t.Fatalf("served %s, want %s", got, before)
	}
	// A new certificate on disk, then the reload.
	os.Remove(filepath.Join(dir, SelfSignedCert))
	os.Remove(filepath.Join(dir, SelfSignedKey))
	if _, _, err := SelfSigned(dir, "127.0.0.1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	after := Fingerprint(c)
	if after == before {
		t.Fatal("reload kept the old certificate")
	}
	// The keep-alive connection survives and still carries the old one.
	if got := get(); got != before {
		t.Fatalf("open connection: served %s, want the old %s", got, before)
	}
	tr.CloseIdleConnections()
	if got := get(); got != after {
		t.Fatalf("new connection: served %s, want the new %s", got, after)
	}
}

func TestReloadFailureKeepsCertificate(t *testing.T) {
	_, c, dir := serveTLS(t)
	before := Fingerprint(c)
	if err := os.WriteFile(filepath.Join(dir, SelfSignedCert), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("a broken certificate file reloaded")
	}
	if Fingerprint(c) != before {
		t.Fatal("a failed reload changed the certificate")
	}
}

func TestSelfSignedStableAndPrivate(t *testing.T) {
	dir := t.TempDir()
	cf, kf, err := SelfSigned(dir, "lethe.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c1, err := LoadCertificate(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cf, kf} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 0600", f, fi.Mode().Perm())
		}
	}
	if _, _, err := SelfSigned(dir, "lethe.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadCertificate(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(c1) != Fingerprint(c2) || len(Fingerprint(c1)) != 95 {
		t.Fatalf("fingerprint changed on restart: %s vs %s", Fingerprint(c1), Fingerprint(c2))
	}
	leaf, err := x509.ParseCertificate(c1.Current().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"lethe.example", "localhost", "127.0.0.1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not name %s: %v", h, err)
		}
	}
}

func TestCheckPlain(t *testing.T) {
	tests := []struct {
		addr     string
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"0.0.0.0:0", false, false},
		{":8080", false, false},
		{"[::]:8080", false, false},
		{"192.0.2.10:8080", false, false},
		{"lethe.example:80", false, false},
		{"garbage", false, false},
		{"0.0.0.0:0", true, true},
	}
	for _, tt := range tests {
		err := CheckPlain(tt.addr, tt.insecure, "--insecure-http")
		if (err == nil) != tt.ok {
			t.Errorf("CheckPlain(%q, %v) = %v, want ok=%v", tt.addr, tt.insecure, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("CheckPlain(%q) error %v is not ErrPlainHTTP", tt.addr, err)
		}
	}
}

func leafFingerprint(der []byte) string {
	c := &Certificate{}
	c.cur.Store(&tls.Certificate{Certificate: [][]byte{der}})
	return Fingerprint(c)
}
