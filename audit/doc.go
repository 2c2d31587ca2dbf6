// Package audit holds what Lethe's three hash-chained logs (runtime,
// manager, security; one chain per tenant and log) need beyond the store:
// the signed checkpoints that anchor and close a chain, the verifier that
// finds the first broken entry, retention periods, query parsing, and the
// group-committing appender that keeps auditing every read from turning
// reads into a write bottleneck.
//
// A chain verifies when it starts at seq 1 with no previous hash, or at a
// signed checkpoint that retention left as its anchor; each entry's seq
// follows the one before, its Prev is that entry's hash and its Hash is
// lethe.ChainHash; every checkpoint's MAC is valid and names an entry's
// actual hash; and the chain ends exactly at its signed head. Editing,
// deleting, inserting or reordering an entry breaks one of these, and so
// does cutting entries off the end. The MACs are keyed with a tenant key
// the database does not hold in the clear, so rewriting the whole chain
// does not help either.
package audit
