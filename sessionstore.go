package lethe

import (
	"context"
	"time"
)

// SessionStore keeps the console's deny list: the sessions signed out
// before their token expired. It lives in the database, not in memory,
// so that a sign-out holds after a restart and on every instance; an
// entry is useless once its token has expired, so entries carry that
// time and are pruned after it.
type SessionStore interface {
	// RevokeSession denies the session id until expires. Revoking again
	// keeps the later expiry.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked reports whether id is denied at now (an entry whose
	// expiry has passed no longer counts, pruned or not).
	SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error)
	// PruneSessions deletes the entries expired at or before now and
	// returns how many it deleted.
	PruneSessions(ctx context.Context, now time.Time) (int, error)
}
