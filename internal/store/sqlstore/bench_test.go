package sqlstore

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/storetest"
)

// Benchmarks of the session store's hot paths. The SQLite ones use a
// fresh file in a temporary directory; the PostgreSQL ones a fresh
// database on the server of UAPID_TEST_POSTGRES_DSN (skipped like the
// tests when it cannot be reached):
//
//	go test -run '^$' -bench . ./internal/store/sqlstore/
//
// The names carry on those of the previous packages (internal/session's
// BenchmarkSQLite…, internal/pgstore's BenchmarkSessions… now
// BenchmarkPostgres…).

func benchSQLite(b *testing.B) *Sessions {
	b.Helper()
	db, _ := tempSQLite(b)
	return db.Sessions()
}

func benchPostgres(b *testing.B) *Sessions {
	b.Helper()
	return openPostgresAt(b, pgSchema(b), nil).Sessions()
}

// BenchmarkSQLiteCreate: one Create of a new record, alone (a batch of one
// in the writer).
func BenchmarkSQLiteCreate(b *testing.B) { storetest.BenchCreate(b, benchSQLite(b), session.NewID) }

// BenchmarkSQLiteConsume: the one-time login of a created session.
func BenchmarkSQLiteConsume(b *testing.B) { storetest.BenchConsume(b, benchSQLite(b), session.NewID) }

// BenchmarkSQLiteByLoginHash: the lookup of a session by the hash of its
// login secret (among 512 sessions; the previous package's benchmark had
// 10,000).
func BenchmarkSQLiteByLoginHash(b *testing.B) {
	storetest.BenchByLoginHash(b, benchSQLite(b), session.NewID)
}

// BenchmarkSQLiteSweep is the cost per record of sweeping expired
// records, one chunk per Sweep call (so without the pauses a larger sweep
// takes between chunks).
func BenchmarkSQLiteSweep(b *testing.B) {
	s := benchSQLite(b)
	recs := benchSessions(b.N)
	past := time.Now().Add(-time.Hour)
	for i := range recs {
		recs[i].CreatedAt, recs[i].LastUsed, recs[i].ExpiresAt = past, past, past.Add(time.Minute)
		if err := s.Create(b.Context(), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	chunk := sqliteDialect.sweepChunk
	b.ResetTimer()
	for n := 0; n < b.N; {
		rs, err := s.Sweep(b.Context(), time.Now(), chunk)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) == 0 {
			b.Fatalf("swept %d of %d", n, b.N)
		}
		n += len(rs)
	}
}

// benchSessions returns n fresh records valid for five minutes.
func benchSessions(n int) []store.Session {
	now := time.Now()
	out := make([]store.Session, n)
	for i := range out {
		out[i] = newSession("alice")
		out[i].ID = session.NewID() // time-ordered, as the server makes them
		out[i].CreatedAt, out[i].LastUsed, out[i].ExpiresAt = now, now, now.Add(5*time.Minute)
	}
	return out
}

// Parallel variants: many goroutines at once (8 per P), as the HTTP
// server calls the store; the writer batches their writes.

func benchCreateParallel(b *testing.B, s store.Sessions) {
	recs := benchSessions(b.N)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if err := s.Create(b.Context(), recs[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchConsumeParallel(b *testing.B, s store.Sessions) {
	recs := benchSessions(b.N)
	cookies := make([][]byte, b.N)
	for i, r := range recs {
		if err := s.Create(b.Context(), r); err != nil {
			b.Fatal(err)
		}
		cookies[i] = hash32()
	}
	now := time.Now()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := s.Consume(b.Context(), recs[i].ID, cookies[i], now, now.Add(15*time.Minute)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSQLiteCreateParallel(b *testing.B)  { benchCreateParallel(b, benchSQLite(b)) }
func BenchmarkSQLiteConsumeParallel(b *testing.B) { benchConsumeParallel(b, benchSQLite(b)) }

// BenchmarkPostgresCreate: one INSERT of a new record (both secrets
// sealed).
func BenchmarkPostgresCreate(b *testing.B) { storetest.BenchCreate(b, benchPostgres(b), session.NewID) }

// BenchmarkPostgresConsume: the conditional UPDATE … RETURNING of a
// login, secrets opened.
func BenchmarkPostgresConsume(b *testing.B) {
	storetest.BenchConsume(b, benchPostgres(b), session.NewID)
}

// BenchmarkPostgresByLoginHash: the lookup by login hash among 512
// sessions.
func BenchmarkPostgresByLoginHash(b *testing.B) {
	storetest.BenchByLoginHash(b, benchPostgres(b), session.NewID)
}

// BenchmarkSQLiteAttempts… and BenchmarkPostgresAttempts…: the brute-force
// counters in SQL (storetest.BenchFailure, BenchBlockedUntil). A SQLite
// node keeps them in memory instead (internal/store/memstore): these are
// what that saves on every request.
func BenchmarkSQLiteAttemptsFailure(b *testing.B) {
	db, _ := tempSQLite(b)
	storetest.BenchFailure(b, db.Attempts())
}

func BenchmarkSQLiteAttemptsBlockedUntil(b *testing.B) {
	db, _ := tempSQLite(b)
	storetest.BenchBlockedUntil(b, db.Attempts())
}

func BenchmarkPostgresAttemptsFailure(b *testing.B) {
	storetest.BenchFailure(b, openPostgresAt(b, pgSchema(b), nil).Attempts())
}

func BenchmarkPostgresAttemptsBlockedUntil(b *testing.B) {
	storetest.BenchBlockedUntil(b, openPostgresAt(b, pgSchema(b), nil).Attempts())
}
