package redisstore_test

import (
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/redisstore"
	"github.com/uapid/uapid/internal/session/redisstore/redistest"
	"github.com/uapid/uapid/internal/session/sessiontest"
)

// Benchmarks of the store's hot paths against the Redis of
// UAPID_TEST_REDIS_URL (skipped like the tests when it cannot be reached).
// Each benchmark has its own key namespace, deleted at the end:
//
//	UAPID_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	    go test -run '^$' -bench Store ./internal/session/redisstore/

// benchStore returns an empty store in a fresh namespace.
func benchStore(b *testing.B) *redisstore.Store {
	b.Helper()
	return open(b, redistest.Namespace(b), newBox(b, secretbox.NewKey()))
}

// recordSource hands out fresh, unused records (as the conformance suite
// builds them) expiring five minutes after they were made, in batches
// that grow with the run. Tokens are 10 random digits: the source never
// hands out the same one twice, which a long run would otherwise do.
type recordSource struct {
	tokens map[string]bool
	size   int
}

// next returns the next batch: 64 records, then twice as many each time,
// up to 1024.
func (s *recordSource) next() []session.Record {
	s.size = min(max(2*s.size, 64), 1024)
	return s.records(s.size)
}

// records returns n records.
func (s *recordSource) records(n int) []session.Record {
	if s.tokens == nil {
		s.tokens = make(map[string]bool)
	}
	now := time.Now()
	out := make([]session.Record, n)
	for i := range out {
		r := sessiontest.NewRecord("alice")
		for s.tokens[r.Token] {
			r.Token = session.NewToken()
		}
		s.tokens[r.Token] = true
		r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
		out[i] = r
	}
	return out
}

// BenchmarkStoreCreate: the Create script for a new record (both secrets
// sealed).
func BenchmarkStoreCreate(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	var src recordSource
	var recs []session.Record
	b.ReportAllocs()
	for b.Loop() {
		if len(recs) == 0 {
			b.StopTimer()
			recs = src.next()
			b.StartTimer()
		}
		if err := s.Create(ctx, recs[0]); err != nil {
			b.Fatal(err)
		}
		recs = recs[1:]
	}
}

// BenchmarkStoreConsume: the one-time login of a created session (the
// Consume script, the record decoded and its secrets opened). The
// sessions are created with the timer stopped.
func BenchmarkStoreConsume(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	var src recordSource
	var recs []session.Record
	var cookies [][]byte
	b.ReportAllocs()
	for b.Loop() {
		if len(recs) == 0 {
			b.StopTimer()
			recs = src.next()
			cookies = make([][]byte, len(recs))
			for i, r := range recs {
				if err := s.Create(ctx, r); err != nil {
					b.Fatal(err)
				}
				cookies[i] = session.HashSecret(session.NewCookieSecret(r.User))
			}
			b.StartTimer()
		}
		now := time.Now()
		got, err := s.Consume(ctx, recs[0].ID, cookies[0], now, now.Add(15*time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		if !got.Consumed {
			b.Fatal("Consume returned an unconsumed record")
		}
		recs, cookies = recs[1:], cookies[1:]
	}
}

// BenchmarkStoreByLoginHash: the lookup of a session by the hash of its
// login secret, among 512 sessions.
func BenchmarkStoreByLoginHash(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	var src recordSource
	recs := src.records(512)
	for _, r := range recs {
		if err := s.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := recs[i%len(recs)]
		got, err := s.ByLoginHash(ctx, r.LoginHash)
		if err != nil {
			b.Fatal(err)
		}
		if got.ID != r.ID {
			b.Fatalf("ByLoginHash returned %s, want %s", got.ID, r.ID)
		}
		i++
	}
}
