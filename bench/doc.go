// Package bench measures Lethe against the floor it is built on: every
// figure it takes through the engine or the HTTP API is taken again, on
// the same rows, with plain SQL through the same SQLite driver and pragmas
// and the same table shape and indexes, so that each result reads as a
// ratio to what the database alone does.
//
// Run takes one pass over all phases in one process, on a fresh data
// folder: batch ingest, single-record create over HTTP at several
// concurrencies, subject lookup, sweep throughput (delete and anonymize),
// sweep lag under steady ingest, peak memory and bytes on disk per record.
// "lethe bench" is its command line; BENCHMARKS.md holds the figures.
package bench
