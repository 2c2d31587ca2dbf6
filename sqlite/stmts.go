package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts prepares each statement once per transaction, so a batch of
// thousands of rows parses its SQL once. Statements of the store's hot
// set (see prepared) are not prepared at all: the transaction borrows the
// one its connection already holds.
type stmts struct {
	ctx   context.Context
	tx    *sql.Tx
	hot   *prepared
	cache map[string]*sql.Stmt
}

func newStmts(ctx context.Context, tx *sql.Tx, hot *prepared) *stmts {
	return &stmts{ctx: ctx, tx: tx, hot: hot, cache: make(map[string]*sql.Stmt)}
}

func (p *stmts) prepare(query string) (*sql.Stmt, error) {
	if st, ok := p.cache[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if h := p.hot.stmt(query); h != nil {
		st = p.tx.StmtContext(p.ctx, h)
	} else {
		var err error
		if st, err = p.tx.PrepareContext(p.ctx, query); err != nil {
			return nil, err
		}
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

// prepared holds the statements every audited read runs, prepared once per
// connection instead of once per transaction. Parsing SQL is a large part
// of a short transaction's cost in this driver (a fifth of an audited
// read's CPU before this cache), and the audit commit runs on the single
// writer connection that every read's entry waits for.
//
// database/sql keeps a *sql.Stmt prepared on each connection of its pool
// that used it; Tx.StmtContext borrows the statement of the transaction's
// own connection, preparing it there first if that connection is new.
// The statements are prepared in Open, before any transaction can hold
// the single writer connection: preparing on the pool while a transaction
// holds that connection would wait for it forever.
type prepared struct {
	m map[string]*sql.Stmt
}

// prepare prepares queries on db.
func prepare(ctx context.Context, db *sql.DB, queries ...string) (*prepared, error) {
	h := &prepared{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		h.m[q] = st
	}
	return h, nil
}

// stmt returns query's prepared statement, nil when it is not in the set
// (or the set is nil).
func (h *prepared) stmt(query string) *sql.Stmt {
	if h == nil {
		return nil
	}
	return h.m[query]
}

func (h *prepared) close() error {
	if h == nil {
		return nil
	}
	var errs []error
	for _, st := range h.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
