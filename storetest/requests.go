package storetest

import "testing"

// requestTests cover the RequestStore part of the interface.
var requestTests = map[string]func(*testing.T, Opener){}
