// Package lethe holds the domain of the Lethe PII lifecycle engine: tenants,
// records with their retention plan, wrapped keys, API keys, tenant settings
// and audit entries, plus the Store interface every database adapter
// implements.
//
// It depends on the standard library only. SQL lives in the store adapters
// (package sqlite, later postgres), HTTP in package httpapi, policy parsing in
// package policy and the rules of privacy in packages retention and engine.
package lethe
