package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/lethe-privacy/lethe/tlsserve"
)

// tlsFlags are serve's transport flags. With a certificate, the API (and
// the metrics listener) speak TLS 1.2+ only; without one, plain HTTP is
// served on loopback alone unless --insecure-http says otherwise, so that
// a server reachable from the network never carries PII in the clear by
// accident (C11).
type tlsFlags struct {
	cert, key    string
	selfSigned   bool
	insecureHTTP bool
}

func (f *tlsFlags) register(fs *pflag.FlagSet, env envFunc) {
	fs.StringVar(&f.cert, "tls-cert", env("LETHE_TLS_CERT"), "PEM certificate chain to serve TLS with; reloaded on SIGHUP [$LETHE_TLS_CERT]")
	fs.StringVar(&f.key, "tls-key", env("LETHE_TLS_KEY"), "PEM private key of --tls-cert; reloaded on SIGHUP [$LETHE_TLS_KEY]")
	fs.BoolVar(&f.selfSigned, "tls-self-signed", env("LETHE_TLS_SELF_SIGNED") == "1", "serve TLS with a self-signed certificate kept in the data folder (for a first try) [$LETHE_TLS_SELF_SIGNED=1]")
	fs.BoolVar(&f.insecureHTTP, "insecure-http", env("LETHE_INSECURE_HTTP") == "1", "allow plain HTTP on an address that is not loopback (behind a TLS-terminating proxy) [$LETHE_INSECURE_HTTP=1]")
}

// transport is what serve listens with: a certificate, or none, and how
// /readyz describes it.
type transport struct {
	cert *tlsserve.Certificate // nil: plain HTTP
	mode string                // "tls", "plain-loopback" or "plain-insecure"
}

// setup checks the flags against the listen addresses and loads (or, for
// --tls-self-signed, creates) the certificate. Nothing is listened on yet.
func (f *tlsFlags) setup(log *slog.Logger, dataDir, addr, metricsAddr string) (transport, error) {
	switch {
	case f.selfSigned && (f.cert != "" || f.key != ""):
		return transport{}, fmt.Errorf("%w: --tls-self-signed and --tls-cert/--tls-key exclude each other", errUsage)
	case (f.cert == "") != (f.key == ""):
		return transport{}, fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	case f.insecureHTTP && (f.selfSigned || f.cert != ""):
		return transport{}, fmt.Errorf("%w: --insecure-http is for serving without TLS; it does not go with a certificate", errUsage)
	}
	certFile, keyFile := f.cert, f.key
	if f.selfSigned {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return transport{}, fmt.Errorf("self-signed certificate: %w", err)
		}
		host, _, _ := net.SplitHostPort(addr)
		var err error
		if certFile, keyFile, err = tlsserve.SelfSigned(dataDir, host, time.Now()); err != nil {
			return transport{}, err
		}
	}
	if certFile == "" {
		if err := tlsserve.CheckPlain(addr, f.insecureHTTP, "--insecure-http"); err != nil {
			return transport{}, err
		}
		if !metricsOff(metricsAddr) {
			if err := tlsserve.CheckPlain(metricsAddr, f.insecureHTTP, "--insecure-http"); err != nil {
				return transport{}, fmt.Errorf("--metrics-addr: %w", err)
			}
		}
		if f.insecureHTTP && !tlsserve.IsLoopback(addr) {
			log.Warn("serving plain HTTP on an address that is not loopback (--insecure-http): terminate TLS in front of it", "addr", addr)
			return transport{mode: "plain-insecure"}, nil
		}
		return transport{mode: "plain-loopback"}, nil
	}
	cert, err := tlsserve.LoadCertificate(certFile, keyFile)
	if err != nil {
		return transport{}, err
	}
	log.Info("TLS on", "cert", certFile, "sha256", tlsserve.Fingerprint(cert), "self_signed", f.selfSigned)
	return transport{cert: cert, mode: "tls"}, nil
}

// listen opens addr, wrapped in TLS when there is a certificate.
func (t transport) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || t.cert == nil {
		return ln, err
	}
	return tls.NewListener(ln, t.cert.Config()), nil
}

// handler adds HSTS to TLS answers.
func (t transport) handler(h http.Handler) http.Handler {
	if t.cert == nil {
		return h
	}
	return tlsserve.HSTS(h)
}

// reloadOnHangup reloads the certificate on every SIGHUP until stop is
// called. A failed reload keeps the certificate in use and says why; open
// connections keep theirs either way.
func (t transport) reloadOnHangup(log *slog.Logger) (stop func()) {
	if t.cert == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := t.cert.Reload(); err != nil {
					log.Error("TLS certificate not reloaded; the previous one is still served", "err", err)
					continue
				}
				log.Info("TLS certificate reloaded", "sha256", tlsserve.Fingerprint(t.cert))
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}
