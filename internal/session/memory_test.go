package session_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/sessiontest"
)

func TestMemory(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		m := session.NewMemory()
		t.Cleanup(func() { m.Close() })
		return m
	})
}

func TestMemoryClosed(t *testing.T) {
	m := session.NewMemory()
	m.Close()
	if err := m.Create(t.Context(), sessiontest.NewRecord("alice")); err == nil {
		t.Fatal("Create on a closed store succeeded")
	}
	if _, err := m.Get(t.Context(), "x"); err == nil {
		t.Fatal("Get on a closed store succeeded")
	}
}

// TestMemoryFootprint measures the heap held per live logged-in session
// (with all indexes) and checks it against the budget of 512 bytes.
func TestMemoryFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k sessions")
	}
	const n = 100_000
	// Build the records first so that only the store's own memory counts.
	recs := make([]session.Record, n)
	tokens := make(map[string]bool, n)
	for i := range recs {
		r := sessiontest.NewRecord(fmt.Sprintf("acct%d", i%500))
		for tokens[r.Token] { // 10^10 tokens: collisions are likely at 100k
			r.Token = session.NewToken()
		}
		tokens[r.Token] = true
		r.CookieHash = session.HashSecret(session.NewCookieSecret(r.User))
		r.Consumed = true
		recs[i] = r
	}
	tokens = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := session.NewMemory()
	for _, r := range recs {
		if err := m.Create(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(recs)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("memory store: %.0f bytes per live session (%d sessions)", per, m.Len())
	if per > 512 {
		t.Errorf("memory store holds %.0f bytes per session, budget 512", per)
	}
	runtime.KeepAlive(m)
}

func BenchmarkMemoryCreate(b *testing.B) {
	m := session.NewMemory()
	defer m.Close()
	recs := benchRecords(b.N)
	b.ResetTimer()
	for i := range b.N {
		if err := m.Create(b.Context(), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryConsume(b *testing.B) {
	m := session.NewMemory()
	defer m.Close()
	recs := benchRecords(b.N)
	for _, r := range recs {
		if err := m.Create(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	cookies := benchCookies(b.N)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := m.Consume(b.Context(), recs[i].ID, cookies[i], now, now.Add(15*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRecords returns n fresh, unused records expiring in 5 minutes.
func benchRecords(n int) []session.Record {
	now := time.Now()
	out := make([]session.Record, n)
	tokens := make(map[string]bool, n)
	for i := range out {
		r := sessiontest.NewRecord("alice")
		for tokens[r.Token] { // 10^10 tokens: a million records collide
			r.Token = session.NewToken()
		}
		tokens[r.Token] = true
		r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
		out[i] = r
	}
	return out
}

func benchCookies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = session.HashSecret(session.NewCookieSecret("alice"))
	}
	return out
}
