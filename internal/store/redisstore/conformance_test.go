package redisstore_test

import (
	"testing"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/storetest"
)

// TestConformance runs the store conformance suite against Redis: New
// opens a store in a fresh key namespace (deleted at the end) on the
// server of UAPID_TEST_REDIS_URL; Pair opens two stores, each with its
// own client (as two nodes), on one namespace.
func TestConformance(t *testing.T) {
	t.Parallel()
	key := secretbox.NewKey()
	storetest.Run(t, storetest.Backend{
		New: func(t testing.TB) storetest.Handles {
			s := open(t, redistest.Namespace(t), newBox(t, key))
			return storetest.Handles{Sessions: s.Sessions(), Attempts: s.Attempts(), OAuth: s.OAuth(), Tickets: s.Tickets()}
		},
		Pair: func(t testing.TB) (a, b storetest.Handles) {
			ns := redistest.Namespace(t)
			sa, sb := open(t, ns, newBox(t, key)), open(t, ns, newBox(t, key))
			return storetest.Handles{Sessions: sa.Sessions(), Attempts: sa.Attempts(), OAuth: sa.OAuth(), Tickets: sa.Tickets()},
				storetest.Handles{Sessions: sb.Sessions(), Attempts: sb.Attempts(), OAuth: sb.OAuth(), Tickets: sb.Tickets()}
		},
	})
}
