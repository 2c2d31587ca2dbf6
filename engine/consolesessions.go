package engine

import (
	"context"
	"fmt"
	"time"
)

// RevokeConsoleSession puts a console session on the deny list until its
// token expires. The list is in the store, so a sign-out survives a
// restart and holds on every instance; entries already past their expiry
// are pruned on the way, so the list holds at most the sign-outs of one
// session lifetime.
func (e *Engine) RevokeConsoleSession(ctx context.Context, id string, expires time.Time) error {
	if _, err := e.store.PruneSessions(ctx, e.now()); err != nil {
		return fmt.Errorf("console sessions: %w", err)
	}
	if err := e.store.RevokeSession(ctx, id, expires); err != nil {
		return fmt.Errorf("console sessions: %w", err)
	}
	return nil
}

// ConsoleSessionRevoked reports whether a console session was signed out.
func (e *Engine) ConsoleSessionRevoked(ctx context.Context, id string) (bool, error) {
	denied, err := e.store.SessionRevoked(ctx, id, e.now())
	if err != nil {
		return false, fmt.Errorf("console sessions: %w", err)
	}
	return denied, nil
}
