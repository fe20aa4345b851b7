package pgstore_test

import (
	"testing"
	"time"

	"github.com/uapid/uapid/internal/pgstore"
	"github.com/uapid/uapid/internal/pgstore/pgtest"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
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

// BenchmarkSessionsCreate: one INSERT of a new record (both secrets
// sealed).
func BenchmarkSessionsCreate(b *testing.B) {
	s := benchSessions(b)
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

// BenchmarkSessionsConsume: the one-time login of a created session (the
// conditional UPDATE … RETURNING, secrets opened). The sessions are
// created with the timer stopped.
func BenchmarkSessionsConsume(b *testing.B) {
	s := benchSessions(b)
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

// BenchmarkSessionsByLoginHash: the lookup of a session by the hash of
// its login secret, among 512 sessions.
func BenchmarkSessionsByLoginHash(b *testing.B) {
	s := benchSessions(b)
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
