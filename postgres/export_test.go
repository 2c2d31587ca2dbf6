package postgres

// HasPoolMaxConns is hasPoolMaxConns, for the tests of package postgres_test.
var HasPoolMaxConns = hasPoolMaxConns
