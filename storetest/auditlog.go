package storetest

import "testing"

// auditLogTests cover the AuditStore part of the interface.
var auditLogTests = map[string]func(*testing.T, Opener){}
