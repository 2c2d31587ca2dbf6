package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"github.com/lethe-privacy/lethe/httpapi"
)

// serveLimits are serve's rate limits and HTTP timeouts.
//
// The timeouts: a client gets ReadHeaderTimeout to send its headers (a
// client that trickles them byte by byte is cut off then) and ReadTimeout
// for the whole request, body included (an 8 MiB batch needs about
// 140 KB/s); an answer must be written within WriteTimeout, except an
// export download, which may run as long as it makes progress (each write
// pushes the deadline on by WriteTimeout), and a sweep on demand, which
// lifts it while it runs. An idle keep-alive connection is closed after
// IdleTimeout.
type serveLimits struct {
	keyRate, ipRate   rate.Limit
	keyBurst, ipBurst int
	authFailures      int
	authWindow        time.Duration

	readHeader, read, write, idle time.Duration
	maxHeader                     int
}

func (l *serveLimits) register(f *pflag.FlagSet) {
	d := httpapi.DefaultLimits
	l.keyRate, l.ipRate = d.KeyRate, d.IPRate
	f.Var(&rateValue{&l.keyRate}, "rate-limit", "requests per API key (or the admin token): N/s, N/m, N/h, or off")
	f.IntVar(&l.keyBurst, "rate-burst", 0, "requests a key may send at once (0: twice the per-second rate)")
	f.Var(&rateValue{&l.ipRate}, "ip-rate-limit", "requests per client address (IPv6: per /64): N/s, N/m, N/h, or off")
	f.IntVar(&l.ipBurst, "ip-rate-burst", 0, "requests an address may send at once (0: twice the per-second rate)")
	f.IntVar(&l.authFailures, "auth-failures", d.AuthFailures, "failed authentications from one address within --auth-failure-window after which it is answered 429 until the window ends (0: never)")
	f.DurationVar(&l.authWindow, "auth-failure-window", d.AuthWindow, "the window failed authentications are counted in; the security log keeps the first of each and one summary (0: log every failure)")
	f.DurationVar(&l.readHeader, "read-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	f.DurationVar(&l.read, "read-timeout", time.Minute, "time a client has to send a whole request, body included")
	f.DurationVar(&l.write, "write-timeout", 2*time.Minute, "time an answer may take to be written (export downloads: between two writes; sweeps on demand: none)")
	f.DurationVar(&l.idle, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	f.IntVar(&l.maxHeader, "max-header-bytes", 64<<10, "largest request header block in bytes")
}

// limits checks the flags and returns the API's limits.
func (l *serveLimits) limits() (httpapi.Limits, error) {
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"--rate-burst", l.keyBurst < 0}, {"--ip-rate-burst", l.ipBurst < 0},
		{"--auth-failures", l.authFailures < 0}, {"--auth-failure-window", l.authWindow < 0},
		{"--read-header-timeout", l.readHeader < 0}, {"--read-timeout", l.read < 0},
		{"--write-timeout", l.write < 0}, {"--idle-timeout", l.idle < 0}, {"--max-header-bytes", l.maxHeader < 0},
	} {
		if c.bad {
			return httpapi.Limits{}, fmt.Errorf("%w: %s must not be negative", errUsage, c.name)
		}
	}
	if l.authFailures > 0 && l.authWindow == 0 {
		return httpapi.Limits{}, fmt.Errorf("%w: --auth-failures needs a positive --auth-failure-window", errUsage)
	}
	return httpapi.Limits{
		KeyRate: l.keyRate, KeyBurst: l.keyBurst,
		IPRate: l.ipRate, IPBurst: l.ipBurst,
		AuthFailures: l.authFailures, AuthWindow: l.authWindow,
	}, nil
}

// server is the http.Server for h with the flags' timeouts.
func (l *serveLimits) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeader,
	}
}

// rateValue is a rate flag: "50/s", "3000/m", "10000/h", a bare number
// (per second), or "off" (also "0").
type rateValue struct{ r *rate.Limit }

func (v *rateValue) Set(s string) error {
	r, err := parseRate(s)
	if err != nil {
		return err
	}
	*v.r = r
	return nil
}

func (v *rateValue) Type() string { return "rate" }

func (v *rateValue) String() string {
	if v.r == nil || *v.r == 0 {
		return "off"
	}
	return strconv.FormatFloat(float64(*v.r), 'f', -1, 64) + "/s"
}

func parseRate(s string) (rate.Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	per := map[string]float64{"": 1, "s": 1, "m": 60, "h": 3600}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if per == 0 || err != nil || n < 0 || n > 1e9 {
		return 0, fmt.Errorf("want a rate such as 50/s, 3000/m or off, not %q", s)
	}
	return rate.Limit(n / per), nil
}
