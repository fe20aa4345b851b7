package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Benchmark bodies shared by the session stores' benchmarks (each
// backend's package calls them with a store, on a real server for the
// shared ones).

// recordSource hands out fresh, unused records (as the conformance suite
// builds them, with identifiers from id) expiring five minutes after they
// were made, in batches that grow with the run. Tokens are 10 random
// digits: the source never hands out the same one twice, which a long run
// would otherwise do.
type recordSource struct {
	id     func() string
	tokens map[string]bool
	size   int
}

// next returns the next batch: 64 records, then twice as many each time,
// up to 1024.
func (s *recordSource) next() []store.Session {
	s.size = min(max(2*s.size, 64), 1024)
	return s.records(s.size)
}

// records returns n records.
func (s *recordSource) records(n int) []store.Session {
	if s.tokens == nil {
		s.tokens = make(map[string]bool)
	}
	now := time.Now()
	out := make([]store.Session, n)
	for i := range out {
		r := NewSessionRecord("alice")
		r.ID = s.id()
		for s.tokens[r.Token] {
			r.Token = newSessionToken()
		}
		s.tokens[r.Token] = true
		r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
		out[i] = r
	}
	return out
}

// The session benchmarks take the identifier generator of the records
// they make: the callers pass the server's own (session.NewID,
// time-ordered, which is what the stores' layouts are built for), which
// this package does not import, as it stands below the session package.

// BenchCreate measures s.Create of a new record each time.
func BenchCreate(b *testing.B, s store.Sessions, newID func() string) {
	ctx := b.Context()
	src := recordSource{id: newID}
	var recs []store.Session
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

// BenchConsume measures s.Consume: the one-time login of a created
// session. The sessions are created with the timer stopped.
func BenchConsume(b *testing.B, s store.Sessions, newID func() string) {
	ctx := b.Context()
	src := recordSource{id: newID}
	var recs []store.Session
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
				cookies[i] = newSecretHash()
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

// BenchByLoginHash measures s.ByLoginHash among 512 sessions.
func BenchByLoginHash(b *testing.B, s store.Sessions, newID func() string) {
	ctx := b.Context()
	src := recordSource{id: newID}
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

// BenchFailure measures a.Failure: a failed login counted against its
// address, among 1024 addresses, with a window holding up to 30 failures
// each.
func BenchFailure(b *testing.B, a store.Attempts) {
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

// BenchBlockedUntil measures a.BlockedUntil of an address and a user (one
// of them blocked): the check before every credential and every login.
func BenchBlockedUntil(b *testing.B, a store.Attempts) {
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
