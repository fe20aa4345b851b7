package redisstore_test

import (
	"testing"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/storetest"
)

// Benchmarks of the store's hot paths against the Redis of
// UAPID_TEST_REDIS_URL (skipped like the tests when it cannot be reached).
// Each benchmark has its own key namespace, deleted at the end:
//
//	UAPID_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	    go test -run '^$' -bench . ./internal/store/redisstore/

// benchStore returns an empty store in a fresh namespace.
func benchStore(b *testing.B) *redisstore.Store {
	b.Helper()
	return open(b, redistest.Namespace(b), newBox(b, secretbox.NewKey()))
}

// BenchmarkStoreCreate: the Create script for a new record (both secrets
// sealed).
func BenchmarkStoreCreate(b *testing.B) {
	storetest.BenchCreate(b, benchStore(b).Sessions(), session.NewID)
}

// BenchmarkStoreConsume: the one-time login of a created session (the
// Consume script, the record decoded and its secrets opened).
func BenchmarkStoreConsume(b *testing.B) {
	storetest.BenchConsume(b, benchStore(b).Sessions(), session.NewID)
}

// BenchmarkStoreByLoginHash: the lookup of a session by the hash of its
// login secret, among 512 sessions.
func BenchmarkStoreByLoginHash(b *testing.B) {
	storetest.BenchByLoginHash(b, benchStore(b).Sessions(), session.NewID)
}

// BenchmarkAttemptsFailure and BenchmarkAttemptsBlockedUntil: the
// brute-force counters (storetest.BenchFailure, BenchBlockedUntil).
func BenchmarkAttemptsFailure(b *testing.B) { storetest.BenchFailure(b, benchStore(b).Attempts()) }

func BenchmarkAttemptsBlockedUntil(b *testing.B) {
	storetest.BenchBlockedUntil(b, benchStore(b).Attempts())
}
