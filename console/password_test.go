package console

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %s: want RFC 9106 second recommendation", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		hash, pw string
		ok       bool
		err      bool
	}{
		{h, "correct horse battery", true, false},
		{h, "correct horse batterY", false, false},
		{h, "", false, false},
		{"$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$a2V5", "x", false, true},
		{"", "x", false, true},
		{strings.Replace(h, "t=3", "t=0", 1), "correct horse battery", false, true},
	} {
		ok, err := CheckPassword(tc.hash, tc.pw)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("CheckPassword(%q, %q) = %v, %v", tc.hash, tc.pw, ok, err)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
}

func TestSecureCookie(t *testing.T) {
	for _, tc := range []struct {
		remote string
		tls    bool
		want   bool
	}{
		{"127.0.0.1:5000", false, false},
		{"[::1]:5000", false, false},
		{"127.0.0.1:5000", true, true},
		{"192.0.2.7:5000", false, true},
		{"garbage", false, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/console/", nil)
		r.RemoteAddr = tc.remote
		r.TLS = nil
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := secure(r); got != tc.want {
			t.Errorf("secure(%s, tls=%v) = %v", tc.remote, tc.tls, got)
		}
	}
}
