package redisstore_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
)

// t0 is the tests' "now": in the future (so that keys the server expires
// on its own clock stay while a test runs), with sub-millisecond digits.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 891_234_567, time.UTC)

func newBox(t testing.TB, key []byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withPrefix returns the test server's URL with the store's prefix set.
func withPrefix(t testing.TB, prefix string, extra ...string) string {
	t.Helper()
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", prefix)
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a store (its own connection, as a node has) in namespace
// prefix, closed when t ends.
func open(t testing.TB, prefix string, box *secretbox.Box, extra ...string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(t.Context(), withPrefix(t, prefix, extra...), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newHash() []byte {
	h := sha256.Sum256([]byte(randHex(16)))
	return h[:]
}

// ms truncates t to the millisecond, in UTC, as the store keeps it.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
