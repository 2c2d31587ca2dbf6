// Package keyring holds Lethe's keys and the cryptography built on them:
// the master key (KEK) that wraps every tenant key, the per-tenant data keys
// (DEKs) that seal PII fields with AES-256-GCM, the blind-index key that
// turns identifiers into searchable keyed hashes, and the receipt key that
// signs request receipts.
//
// The database only ever holds tenant keys wrapped by the master key, so a
// copy of the database alone opens nothing. Every envelope carries the
// version of the data key that sealed it and is bound, through the GCM
// associated data, to its tenant, collection, record and field, so a
// ciphertext moved to another place fails to open. The byte layouts are
// written down in docs/format.md.
package keyring
