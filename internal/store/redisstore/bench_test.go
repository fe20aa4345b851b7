package redisstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
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
func BenchmarkStoreCreate(b *testing.B) { storetest.BenchCreate(b, benchStore(b).Sessions()) }

// BenchmarkStoreConsume: the one-time login of a created session (the
// Consume script, the record decoded and its secrets opened).
func BenchmarkStoreConsume(b *testing.B) { storetest.BenchConsume(b, benchStore(b).Sessions()) }

// BenchmarkStoreByLoginHash: the lookup of a session by the hash of its
// login secret, among 512 sessions.
func BenchmarkStoreByLoginHash(b *testing.B) {
	storetest.BenchByLoginHash(b, benchStore(b).Sessions())
}

// BenchmarkAttemptsFailure: a failed login counted against its address,
// among 1024 addresses, with a window holding up to 30 failures each.
func BenchmarkAttemptsFailure(b *testing.B) {
	a := benchStore(b).Attempts()
	ctx := b.Context()
	now := time.Now()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		k := store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2." + strconv.Itoa(i%1024)}
		if _, err := a.Failure(ctx, k, now.Add(time.Duration(i)*time.Millisecond), 30*time.Millisecond*1024); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAttemptsBlockedUntil: the check before every password login,
// of its address and its user.
func BenchmarkAttemptsBlockedUntil(b *testing.B) {
	a := benchStore(b).Attempts()
	ctx := b.Context()
	now := time.Now()
	keys := []store.AttemptKey{{Kind: store.AttemptIP, Value: "192.0.2.1"}, {Kind: store.AttemptUser, Value: "alice"}}
	if _, err := a.Block(ctx, keys[1], 0, now.Add(time.Hour), now.Add(2*time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.BlockedUntil(ctx, keys, now); err != nil {
			b.Fatal(err)
		}
	}
}
