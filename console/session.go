package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SessionLifetime is how long a sign-in lasts (C12): a working day.
const SessionLifetime = 8 * time.Hour

// claims is the session token's body. The role and tenant are in it for
// display only: every request looks the user up again, so a removed user
// or a changed role takes effect at once.
type claims struct {
	jwt.RegisteredClaims
	Tenant string `json:"tnt,omitempty"`
	Role   string `json:"role"`
}

// sessions signs and checks session tokens (HS256 under the console
// key). The deny list of tokens signed out before their expiry is in the
// store (Engine.RevokeConsoleSession), so it survives a restart.
type sessions struct {
	key []byte
	now func() time.Time
}

func newSessions(key []byte, now func() time.Time) *sessions {
	return &sessions{key: key, now: now}
}

func (s *sessions) issue(user, tenant, role string) (token string, c *claims, err error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", nil, err
	}
	now := s.now()
	c = &claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   user,
			ID:        base64.RawURLEncoding.EncodeToString(jti),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(SessionLifetime)),
			Issuer:    "lethe-console",
		},
		Tenant: tenant,
		Role:   role,
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	return token, c, err
}

var errSession = errors.New("console: no valid session")

func (s *sessions) check(token string) (*claims, error) {
	c := &claims{}
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer("lethe-console"),
		jwt.WithTimeFunc(s.now))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSession, err)
	}
	if c.ID == "" || c.Subject == "" {
		return nil, errSession
	}
	return c, nil
}

// csrfToken is the synchronizer token of a session: an HMAC of its id, so
// nothing needs storing and it dies with the session.
func (s *sessions) csrfToken(c *claims) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("csrf\x00" + c.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sessions) csrfOK(c *claims, given string) bool {
	want := s.csrfToken(c)
	return given != "" && subtle.ConstantTimeCompare([]byte(want), []byte(given)) == 1
}
