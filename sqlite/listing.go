package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
)

// pageLimit is a query's LIMIT: 100 unless the caller asks for more.
func pageLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return n
}

const qListTenants = "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants WHERE id > ? ORDER BY id LIMIT ?"

// ListTenants pages through the tenants in id order, a range scan of the
// primary key.
func (s *Store) ListTenants(ctx context.Context, q lethe.TenantQuery) ([]*lethe.Tenant, error) {
	rows, err := s.query(ctx, qListTenants, q.After, pageLimit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	ts, err := scanTenants(rows)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// where collects the conditions and arguments of a listing query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

// addTime adds cond unless t is zero (an open bound).
func (w *where) addTime(cond string, t time.Time) {
	if !t.IsZero() {
		w.add(cond, millis(t))
	}
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// recordListQuery builds ListRecords' statement. The order is the
// records_ref key (tenant, collection, id); with an origin it is also the
// tail of records_origin (tenant, origin, collection, id), which SQLite
// then prefers. Either way a page is one index range scan, the other
// filters are checked on the rows it passes.
func recordListQuery(q lethe.RecordQuery) (string, []any) {
	var w where
	w.add("tenant = ?", q.Tenant)
	w.add("collection = ?", q.Collection)
	if q.Origin != "" {
		w.add("origin = ?", q.Origin)
	}
	if q.State != "" {
		w.add("state = ?", string(q.State))
	}
	w.addTime("created_at >= ?", q.CreatedFrom)
	w.addTime("created_at < ?", q.CreatedTo)
	w.addTime("updated_at >= ?", q.UpdatedFrom)
	w.addTime("updated_at < ?", q.UpdatedTo)
	w.add("id > ?", q.After)
	return "SELECT " + recordCols + " FROM records WHERE " + w.String() + " ORDER BY id LIMIT ?",
		append(w.args, pageLimit(q.Limit))
}

// ListRecords pages through a collection in id order (see
// recordListQuery); subjects are not loaded.
func (s *Store) ListRecords(ctx context.Context, q lethe.RecordQuery) ([]*lethe.Record, error) {
	query, args := recordListQuery(q)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Tenant, q.Collection, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Tenant, q.Collection, err)
	}
	return out, nil
}

// requestListQuery builds ListRequests' statement: a range scan of
// requests_tenant, or of requests_tenant_state with a state.
func requestListQuery(q lethe.RequestQuery) (string, []any) {
	var w where
	w.add("tenant = ?", q.Tenant)
	if q.State != "" {
		w.add("state = ?", string(q.State))
	}
	if q.Type != "" {
		w.add("type = ?", string(q.Type))
	}
	w.add("id > ?", q.After)
	return "SELECT " + requestCols + " FROM requests WHERE " + w.String() + " ORDER BY id LIMIT ?",
		append(w.args, pageLimit(q.Limit))
}

// ListRequests pages through a tenant's jobs in id order.
func (s *Store) ListRequests(ctx context.Context, q lethe.RequestQuery) ([]*lethe.Request, error) {
	query, args := requestListQuery(q)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", q.Tenant, err)
	}
	defer rows.Close()
	var out []*lethe.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list requests of %s: %w", q.Tenant, mapErr(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", q.Tenant, mapErr(err))
	}
	return out, nil
}
