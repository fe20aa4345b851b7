package pgstore_test

import (
	"testing"

	"github.com/uapid/uapid/internal/pgstore"
	"github.com/uapid/uapid/internal/pgstore/pgtest"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session/sessiontest"
)

// Benchmarks of the session store's hot paths against the PostgreSQL of
// UAPID_TEST_POSTGRES_DSN (skipped like the tests when it cannot be
// reached). Each benchmark has its own database, dropped at the end:
//
//	UAPID_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	    go test -run '^$' -bench Sessions ./internal/pgstore/

// benchSessions returns an empty session store in a fresh database.
func benchSessions(b *testing.B) *pgstore.Sessions {
	b.Helper()
	db := open(b, pgtest.Schema(b, pgtest.NewDatabase(b)))
	return sessions(b, db, newBox(b, secretbox.NewKey()))
}

// BenchmarkSessionsCreate: one INSERT of a new record (both secrets
// sealed).
func BenchmarkSessionsCreate(b *testing.B) { sessiontest.BenchCreate(b, benchSessions(b)) }

// BenchmarkSessionsConsume: the one-time login of a created session (the
// conditional UPDATE … RETURNING, secrets opened).
func BenchmarkSessionsConsume(b *testing.B) { sessiontest.BenchConsume(b, benchSessions(b)) }

// BenchmarkSessionsByLoginHash: the lookup of a session by the hash of
// its login secret, among 512 sessions.
func BenchmarkSessionsByLoginHash(b *testing.B) { sessiontest.BenchByLoginHash(b, benchSessions(b)) }
