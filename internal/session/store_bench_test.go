package session_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
)

// Parallel variants of the store benchmarks: many goroutines at once, as
// the HTTP server calls the store (run with -cpu to vary GOMAXPROCS; the
// goroutines are 8 per P).

func benchCreateParallel(b *testing.B, s session.Store) {
	recs := benchRecords(b.N)
	var next atomic.Int64
	b.SetParallelism(8)
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

func benchConsumeParallel(b *testing.B, s session.Store) {
	recs := benchRecords(b.N)
	for _, r := range recs {
		if err := s.Create(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	cookies := benchCookies(b.N)
	now := time.Now()
	var next atomic.Int64
	b.SetParallelism(8)
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

func BenchmarkMemoryCreateParallel(b *testing.B) {
	m := session.NewMemory()
	defer m.Close()
	benchCreateParallel(b, m)
}

func BenchmarkMemoryConsumeParallel(b *testing.B) {
	m := session.NewMemory()
	defer m.Close()
	benchConsumeParallel(b, m)
}

// benchLookup measures ByLoginHash on a store holding n records: an
// indexed lookup and the decoding of one record.
func benchLookup(b *testing.B, s session.Store, n int) {
	recs := benchRecords(n)
	for _, r := range recs {
		if err := s.Create(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.ByLoginHash(b.Context(), recs[i%n].LoginHash); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQLiteByLoginHash(b *testing.B) { benchLookup(b, benchSQLite(b), 10_000) }

func BenchmarkMemoryByLoginHash(b *testing.B) {
	m := session.NewMemory()
	defer m.Close()
	benchLookup(b, m, 10_000)
}

// BenchmarkSQLiteSweep is the cost per record of sweeping expired
// records (chunks of 64, without the pauses a large sweep takes between
// chunks: each Sweep call here removes one chunk).
func BenchmarkSQLiteSweep(b *testing.B) {
	s := benchSQLite(b)
	recs := benchRecords(b.N)
	past := time.Now().Add(-time.Hour)
	for i := range recs {
		recs[i].CreatedAt, recs[i].LastUsed, recs[i].ExpiresAt = past, past, past.Add(time.Minute)
		if err := s.Create(b.Context(), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; {
		rs, err := s.Sweep(b.Context(), time.Now(), 64)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) == 0 {
			b.Fatalf("swept %d of %d", n, b.N)
		}
		n += len(rs)
	}
}
