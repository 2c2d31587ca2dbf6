package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/tlsserve"
)

// trusting returns an HTTPS client that trusts only the PEM certificate in
// certFile.
func trusting(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("read %s: %v", certFile, err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func readyz(t *testing.T, c *http.Client, url string) (map[string]string, http.Header) {
	t.Helper()
	res, err := c.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %d %v", res.StatusCode, err)
	}
	return body, res.Header
}

// TestServe_TLSSelfSigned: the first start creates an owner-only
// certificate in the data folder and serves TLS with it, HSTS included;
// TLS 1.1 and plain HTTP on the same port get no answer.
func TestServe_TLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	addr, stderr, _ := startServe(t, nil, "--data", dir, "--addr", "127.0.0.1:0", "--tls-self-signed")
	certFile := filepath.Join(dir, tlsserve.SelfSignedCert)
	for _, f := range []string{certFile, filepath.Join(dir, tlsserve.SelfSignedKey)} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	if !strings.Contains(stderr.String(), "sha256=") {
		t.Errorf("the start does not log the certificate's fingerprint:\n%s", stderr)
	}
	body, h := readyz(t, trusting(t, certFile), "https://"+addr)
	if body["transport"] != "tls" {
		t.Errorf("readyz transport = %q, want tls", body["transport"])
	}
	if h.Get("Strict-Transport-Security") != tlsserve.HSTSValue {
		t.Errorf("HSTS = %q", h.Get("Strict-Transport-Security"))
	}

	old := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	res, err := http.Get("http://" + addr + "/readyz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("plain HTTP on the TLS port was served")
		}
	}
}

// TestServe_PlainHTTPOffLoopback: refused before anything is written,
// unless --insecure-http, and then /readyz says so.
func TestServe_PlainHTTPOffLoopback(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data", dir, "--addr", "0.0.0.0:0", "--metrics-addr", "off"}, &out, &errOut, func(string) string { return "" })
	if code := exitCode(err); code != exitInvalid || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("exit %d (%v), want %d naming --insecure-http", code, err, exitInvalid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the refused start created the data folder: %v", err)
	}

	port := freeAddr(t)[len("127.0.0.1:"):]
	_, stderr, stop := startServe(t, nil, "--data", dir, "--addr", "0.0.0.0:"+port, "--insecure-http")
	body, _ := readyz(t, http.DefaultClient, "http://127.0.0.1:"+port)
	if body["transport"] != "plain-insecure" {
		t.Errorf("readyz transport = %q, want plain-insecure", body["transport"])
	}
	if !strings.Contains(stderr.String(), "--insecure-http") {
		t.Errorf("no warning logged:\n%s", stderr)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	_, _, stop = startServe(t, nil, "--data", dir, "--addr", "127.0.0.1:"+port)
	body, _ = readyz(t, http.DefaultClient, "http://127.0.0.1:"+port)
	stop()
	if body["transport"] != "plain-loopback" {
		t.Errorf("readyz transport = %q, want plain-loopback", body["transport"])
	}
}

func TestServe_TLSFlagsRefused(t *testing.T) {
	cert, key, err := tlsserve.SelfSigned(t.TempDir(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"cert without key", []string{"--tls-cert", cert}, exitUsage, "go together"},
		{"self-signed and a cert", []string{"--tls-self-signed", "--tls-cert", cert, "--tls-key", key}, exitUsage, "exclude"},
		{"insecure with a cert", []string{"--insecure-http", "--tls-cert", cert, "--tls-key", key}, exitUsage, "--insecure-http"},
		{"key of another file", []string{"--tls-cert", cert, "--tls-key", cert}, exitInvalid, "TLS certificate"},
		{"metrics off loopback", []string{"--metrics-addr", "0.0.0.0:0"}, exitInvalid, "--metrics-addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
			if code := exitCode(err); code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d (%v), want %d and a message containing %q", code, err, tc.code, tc.want)
			}
		})
	}
}

// TestServe_TLSReloadOnHangup: SIGHUP swaps the certificate for new
// handshakes while an open connection goes on with the one it was made
// with; a broken file keeps the current certificate.
func TestServe_TLSReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o700)
	os.MkdirAll(filepath.Join(dir, "b"), 0o700)
	certA, keyA, err := tlsserve.SelfSigned(filepath.Join(dir, "a"), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certB, keyB, err := tlsserve.SelfSigned(filepath.Join(dir, "b"), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "served.crt"), filepath.Join(dir, "served.key")
	copyFile(t, certA, cert)
	copyFile(t, keyA, key)
	addr, stderr, _ := startServe(t, nil, "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)

	insecure := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	open, err := tls.Dial("tcp", addr, insecure)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	r := bufio.NewReader(open)
	get(t, open, r, addr)
	fpA := leaf(open)

	copyFile(t, certB, cert)
	copyFile(t, keyB, key)
	hangup(t, stderr)
	get(t, open, r, addr) // the open connection is still served
	if c, err := tls.Dial("tcp", addr, insecure); err != nil {
		t.Fatal(err)
	} else {
		if fp := leaf(c); fp == fpA || fp != fingerprintOf(t, certB) {
			t.Errorf("after SIGHUP a new connection gets %s, want the new certificate %s", fp, fingerprintOf(t, certB))
		}
		c.Close()
	}

	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	hangup(t, stderr)
	if !strings.Contains(stderr.String(), "not reloaded") {
		t.Errorf("a broken file was not reported:\n%s", stderr)
	}
	c, err := tls.Dial("tcp", addr, insecure)
	if err != nil {
		t.Fatalf("after a broken reload: %v", err)
	}
	if fp := leaf(c); fp != fingerprintOf(t, certB) {
		t.Errorf("after a broken reload the certificate changed to %s", fp)
	}
	c.Close()
}

// hangup sends the process SIGHUP and waits for one more reload line.
func hangup(t *testing.T, stderr *syncBuffer) {
	t.Helper()
	before := strings.Count(stderr.String(), "TLS certificate")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(stderr.String(), "TLS certificate") == before {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP not handled:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, c net.Conn, r *bufio.Reader, host string) {
	t.Helper()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("request on the open connection: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
}

func leaf(c *tls.Conn) string {
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return ""
	}
	return fmt.Sprintf("%x", certs[0].Signature)
}

func fingerprintOf(t *testing.T, certFile string) string {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, ".crt")+".key")
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", x.Signature)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
