package sqlite

import (
	"context"
	"database/sql"
)

// stmts prepares each statement once per transaction, so a batch of
// thousands of rows parses its SQL once.
type stmts struct {
	ctx   context.Context
	tx    *sql.Tx
	cache map[string]*sql.Stmt
}

func newStmts(ctx context.Context, tx *sql.Tx) *stmts {
	return &stmts{ctx: ctx, tx: tx, cache: make(map[string]*sql.Stmt)}
}

func (p *stmts) prepare(query string) (*sql.Stmt, error) {
	if st, ok := p.cache[query]; ok {
		return st, nil
	}
	st, err := p.tx.PrepareContext(p.ctx, query)
	if err != nil {
		return nil, err
	}
	p.cache[query] = st
	return st, nil
}

func (p *stmts) exec(query string, args ...any) (sql.Result, error) {
	st, err := p.prepare(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(p.ctx, args...)
}

// scanRow runs a single-row query and scans it; sql.ErrNoRows when empty.
func (p *stmts) scanRow(query string, args []any, dest ...any) error {
	st, err := p.prepare(query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(p.ctx, args...).Scan(dest...)
}

func (p *stmts) close() {
	for _, st := range p.cache {
		st.Close()
	}
}
