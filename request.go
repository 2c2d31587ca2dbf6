package lethe

// RequestStore is the part of Store that persists data-subject and
// data-origin request jobs (see engine requests).
type RequestStore interface{}
