// Package retention holds the rules of a record's life as pure functions:
// when its next retention step is due (Plan), whether a legal hold keeps it
// (Hold), which tenant choices a collection allows (ValidateSettings,
// Enabled), and what anonymization leaves of its fields (Anonymize).
//
// Nothing here does I/O or reads the clock: the engine passes the record's
// plain data and the current time in, so that every rule can be
// table-tested at any date without a database or a sleep.
package retention
