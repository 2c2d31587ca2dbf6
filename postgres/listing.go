package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// pageLimit is a query's LIMIT: 100 unless the caller asks for more.
func pageLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return n
}

const qListTenants = "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants WHERE id > $1 ORDER BY id LIMIT $2"

// ListTenants pages through the tenants in id order, a range scan of the
// primary key.
func (s *Store) ListTenants(ctx context.Context, q lethe.TenantQuery) ([]*lethe.Tenant, error) {
	ts, err := s.tenants(ctx, qListTenants, q.After, pageLimit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// where collects the numbered conditions and arguments of a listing query.
type where struct {
	conds []string
	args  []any
}

// add appends cond, whose one placeholder is written "$?".
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "$?", "$"+strconv.Itoa(len(w.args)), 1))
}

// addTime adds cond unless t is zero (an open bound).
func (w *where) addTime(cond string, t time.Time) {
	if !t.IsZero() {
		w.add(cond, ms(t))
	}
}

// limit returns the LIMIT clause with its argument appended.
func (w *where) limit(n int) string {
	w.args = append(w.args, pageLimit(n))
	return " LIMIT $" + strconv.Itoa(len(w.args))
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// recordListQuery builds ListRecords' statement. The order is the
// records_ref key (tenant, collection, id); with an origin it is also the
// tail of records_origin (tenant, origin, collection, id). Either way a
// page is one index range scan, the other filters are checked on the rows
// it passes.
func recordListQuery(q lethe.RecordQuery) (string, []any) {
	var w where
	w.add("r.tenant = $?", q.Tenant)
	w.add("r.collection = $?", q.Collection)
	if q.Origin != "" {
		w.add("r.origin = $?", q.Origin)
	}
	if q.State != "" {
		w.add("r.state = $?", string(q.State))
	}
	w.addTime("r.created_at >= $?", q.CreatedFrom)
	w.addTime("r.created_at < $?", q.CreatedTo)
	w.addTime("r.updated_at >= $?", q.UpdatedFrom)
	w.addTime("r.updated_at < $?", q.UpdatedTo)
	w.add("r.id > $?", q.After)
	cond := w.String()
	return "SELECT " + recordCols + " FROM records r WHERE " + cond + " ORDER BY r.id" + w.limit(q.Limit), w.args
}

// ListRecords pages through a collection in id order (see
// recordListQuery); subjects are not loaded.
func (s *Store) ListRecords(ctx context.Context, q lethe.RecordQuery) ([]*lethe.Record, error) {
	query, args := recordListQuery(q)
	recs, err := s.queryRecords(ctx, false, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Tenant, q.Collection, err)
	}
	return recs, nil
}

// requestListQuery builds ListRequests' statement: a range scan of
// requests_tenant, or of requests_tenant_state with a state.
func requestListQuery(q lethe.RequestQuery) (string, []any) {
	var w where
	w.add("tenant = $?", q.Tenant)
	if q.State != "" {
		w.add("state = $?", string(q.State))
	}
	if q.Type != "" {
		w.add("type = $?", string(q.Type))
	}
	w.add("id > $?", q.After)
	cond := w.String()
	return "SELECT " + requestCols + " FROM requests WHERE " + cond + " ORDER BY id" + w.limit(q.Limit), w.args
}

// ListRequests pages through a tenant's jobs in id order.
func (s *Store) ListRequests(ctx context.Context, q lethe.RequestQuery) ([]*lethe.Request, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	query, args := requestListQuery(q)
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", q.Tenant, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.Request, error) { return scanRequest(row) })
	if err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", q.Tenant, mapErr(err))
	}
	return out, nil
}
