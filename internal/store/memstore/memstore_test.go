package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/memstore"
	"github.com/uapid/uapid/internal/store/storetest"
)

// TestConformance runs the store suite on the in-memory counters (one
// process: no second handle).
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(testing.TB) storetest.Handles { return storetest.Handles{Attempts: memstore.NewAttempts()} },
	})
}

// TestBounded: an attack from very many addresses does not grow the
// counters without bound.
func TestBounded(t *testing.T) {
	a := memstore.NewAttempts()
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	for i := range 300_000 {
		k := store.AttemptKey{Kind: store.AttemptIP, Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
		if _, err := a.Failure(ctx, k, now, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := memstore.Keys(a); n > 200_000 {
		t.Fatalf("%d keys kept, bound 200000", n)
	}
}

// BenchmarkFailure and BenchmarkBlockedUntil: the counters in memory, to
// set beside the SQL and Redis ones (storetest.BenchFailure,
// BenchBlockedUntil).
func BenchmarkFailure(b *testing.B) { storetest.BenchFailure(b, memstore.NewAttempts()) }

func BenchmarkBlockedUntil(b *testing.B) { storetest.BenchBlockedUntil(b, memstore.NewAttempts()) }
