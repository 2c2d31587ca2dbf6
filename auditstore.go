package lethe

// AuditStore is the part of Store that keeps the audit chains' checkpoints
// and their expiry (see package audit).
type AuditStore interface{}
