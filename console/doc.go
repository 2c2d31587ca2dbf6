// Package console is Lethe's web console: pages for people, served by
// lethe serve under /console/. It calls the engine exactly as the HTTP API
// does and never the store, so every rule the API keeps (tenant reach,
// audit entries, validation) holds here too.
//
// Sign-in is by console user (argon2id password hash) and yields a signed
// session cookie; every form carries a CSRF token; sign-in failures are
// rate-limited per account and per address and written to the security
// log. See docs/adr/0020-web-console.md.
package console
