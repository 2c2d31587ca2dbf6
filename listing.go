package lethe

import "time"

// TenantQuery pages through every tenant in id order.
type TenantQuery struct {
	After string // the last id of the previous page; "" for the first
	Limit int    // at most this many; a store treats <= 0 as 100
}

// RecordQuery pages through one collection of a tenant in id order. The
// order is the (tenant, collection, id) key every store holds a unique
// index on, so a page is one range scan from After on, and a record
// written while a client pages cannot make it see another twice.
//
// Filters narrow the page without changing its order: Origin and State
// match exactly when set; the time ranges include From and exclude To,
// either bound zero for open.
type RecordQuery struct {
	Tenant, Collection string
	Origin             string
	State              State
	CreatedFrom        time.Time
	CreatedTo          time.Time
	UpdatedFrom        time.Time
	UpdatedTo          time.Time
	After              string // the last id of the previous page; "" for the first
	Limit              int    // at most this many; a store treats <= 0 as 100
}

// RequestQuery pages through a tenant's request jobs in id order. Job ids
// are UUIDv7, so id order is the order in which they were submitted.
type RequestQuery struct {
	Tenant string
	State  RequestState // "" for every state
	Type   RequestType  // "" for every type
	After  string       // the last id of the previous page; "" for the first
	Limit  int          // at most this many; a store treats <= 0 as 100
}
