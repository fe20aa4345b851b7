// Package redistest gives tests a private key namespace on the Redis named
// by UAPID_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). Namespaces
// are random prefixes; every key under one is deleted when the test ends
// (nothing else on the server is touched: no FLUSHDB).
//
// When the server cannot be reached the test is skipped, or fails when the
// environment variable CI is set.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is used when UAPID_TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the test server's URL.
func URL() string {
	if v := os.Getenv("UAPID_TEST_REDIS_URL"); v != "" {
		return v
	}
	return DefaultURL
}

// Client returns a client of the test server, closed when t ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("UAPID_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis (UAPID_TEST_REDIS_URL) is not reachable (CI is set, so this is an error): %v", err)
		}
		t.Skipf("skipping: Redis (UAPID_TEST_REDIS_URL) is not reachable: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Namespace returns a fresh key prefix ("uapid_test_<random>:") and deletes
// every key under it when t ends.
func Namespace(t testing.TB) string {
	t.Helper()
	c := Client(t)
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "uapid_test_" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if n, err := Delete(ctx, c, prefix); err != nil {
			t.Errorf("delete test keys %s*: %v (%d deleted)", prefix, err, n)
		}
	})
	return prefix
}

// Delete removes every key starting with prefix (which must hold no glob
// characters) and returns how many it removed.
func Delete(ctx context.Context, c *redis.Client, prefix string) (int, error) {
	n := 0
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// Keys lists the keys under prefix.
func Keys(t testing.TB, c *redis.Client, prefix string) []string {
	t.Helper()
	keys, err := c.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
