package redisstore_test

import (
	"bytes"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/redisstore"
	"github.com/uapid/uapid/internal/session/redisstore/redistest"
	"github.com/uapid/uapid/internal/session/sessiontest"
)

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

// TestStore runs the session store conformance suite against Redis, each
// subtest in its own key namespace.
func TestStore(t *testing.T) {
	t.Parallel()
	key := secretbox.NewKey()
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return open(t, redistest.Namespace(t), newBox(t, key))
	})
}

// TestTwoNodes runs the shared tests through two connections on one
// namespace, as two uapid nodes see it.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	key := secretbox.NewKey()
	sessiontest.RunShared(t, func(t *testing.T) (a, b session.Store) {
		ns := redistest.Namespace(t)
		return open(t, ns, newBox(t, key)), open(t, ns, newBox(t, key))
	})
}

// TestNativeExpiry checks the keys' Redis expiry: ExpiresAt plus the grace
// period, moved by Consume and Touch, and not earlier than grace from now
// for a record written already expired; every key of a record expires with
// it, and what Redis dropped by itself is unknown, not an error.
func TestNativeExpiry(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	s := open(t, ns, newBox(t, secretbox.NewKey()), "expiry_grace", "2s")
	ctx := t.Context()
	now := time.Now()

	r := sessiontest.NewRecord("alice")
	r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	wantAt := func(what string, want time.Time) {
		t.Helper()
		keys := redistest.Keys(t, c, ns)
		for _, k := range keys {
			if k == ns+"exp" {
				continue
			}
			at, err := c.PExpireTime(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			got := time.UnixMilli(at.Milliseconds())
			if k == ns+"a:alice" {
				if got.Before(want.Truncate(time.Millisecond)) {
					t.Errorf("%s: account set expires at %v, before %v", what, got, want)
				}
				continue
			}
			if d := got.Sub(want); d < -5*time.Millisecond || d > 5*time.Millisecond {
				t.Errorf("%s: key %s expires at %v, want %v", what, strings.TrimPrefix(k, ns), got, want)
			}
		}
	}
	wantAt("create", r.ExpiresAt.Add(2*time.Second))
	cookie := session.HashSecret(session.NewCookieSecret(r.User))
	if _, err := s.Consume(ctx, r.ID, cookie, now, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantAt("consume", now.Add(15*time.Minute+2*time.Second))
	if err := s.Touch(ctx, r.ID, now.Add(time.Minute), now.Add(16*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantAt("touch", now.Add(16*time.Minute+2*time.Second))
	if keys := redistest.Keys(t, c, ns); len(keys) != 6 {
		t.Errorf("keys %v: want record, token, login, cookie, account set, expiry index", keys)
	}

	// A record written already expired stays for the grace period (so that
	// lookups say "expired"), then Redis drops it and its index keys.
	old := sessiontest.NewRecord("bob")
	old.ExpiresAt = now.Add(-time.Hour)
	if err := s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByLoginHash(ctx, old.LoginHash); err != nil || !got.Expired(now) {
		t.Fatalf("expired record right after Create: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(ctx, old.ID)
		if errors.Is(err, session.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired record still there after the grace period: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, k := range redistest.Keys(t, c, ns) {
		if strings.Contains(k, old.Token) || strings.HasSuffix(k, old.ID) || strings.HasSuffix(k, ":bob") {
			t.Errorf("key %s outlived its record", k)
		}
	}
	// Its id is still in the expiry index; Sweep forgets it without
	// returning anything, and Create may reuse every key.
	swept, err := s.Sweep(ctx, now, 0)
	if err != nil || len(swept) != 0 {
		t.Fatalf("Sweep of a natively expired record: %v, %v", swept, err)
	}
	if n, _ := c.ZCard(ctx, ns+"exp").Result(); n != 1 {
		t.Errorf("expiry index holds %d ids, want 1", n)
	}
	if err := s.Create(ctx, old); err != nil {
		t.Fatalf("Create again after native expiry: %v", err)
	}
}

// TestSecretsAtRest checks that the temporary password and the return URL
// are sealed in Redis and that rotation keeps old records readable.
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	ctx := t.Context()
	k1, k2 := secretbox.NewKey(), secretbox.NewKey()
	s1 := open(t, ns, newBox(t, k1))
	r := sessiontest.NewRecord("alice")
	if err := s1.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	h, err := c.HGetAll(ctx, ns+"s:"+r.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if strings.Contains(v, r.TempPass) || strings.Contains(v, "back?x=1") {
			t.Errorf("field %s holds a secret in clear", k)
		}
	}
	if h["tu"] != r.TempUser || len(h["tp"]) != len(r.TempPass)+secretbox.Overhead {
		t.Errorf("stored fields %q / %d bytes", h["tu"], len(h["tp"]))
	}
	rotated, err := secretbox.New(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := open(t, ns, rotated).Get(ctx, r.ID); err != nil || got.TempPass != r.TempPass {
		t.Fatalf("Get after rotation: %v", err)
	}
	if _, err := open(t, ns, newBox(t, k2)).Get(ctx, r.ID); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("Get without the old key: %v", err)
	}
	if _, err := redisstore.New(c, redisstore.Options{}); err == nil {
		t.Fatal("New without a key succeeded")
	}
}

// TestNamespaces: two prefixes on one Redis do not see each other.
func TestNamespaces(t *testing.T) {
	t.Parallel()
	box := newBox(t, secretbox.NewKey())
	a, b := open(t, redistest.Namespace(t), box), open(t, redistest.Namespace(t), box)
	r := sessiontest.NewRecord("alice")
	if err := a.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(t.Context(), r); err != nil {
		t.Fatalf("same record in another namespace: %v", err)
	}
	if _, err := b.Delete(t.Context(), r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(t.Context(), r.ID); err != nil {
		t.Fatalf("Delete in one namespace reached the other: %v", err)
	}
}

// TestConsumeManyNodes: 50 logins of one session spread over five
// connections; exactly one wins.
func TestConsumeManyNodes(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	box := newBox(t, secretbox.NewKey())
	var nodes []*redisstore.Store
	for range 5 {
		nodes = append(nodes, open(t, ns, box))
	}
	r := sessiontest.NewRecord("alice")
	r.ExpiresAt = time.Now().Add(time.Minute)
	if err := nodes[0].Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	var winner []byte
	for i := range 50 {
		wg.Go(func() {
			c := session.HashSecret(session.NewCookieSecret("x"))
			_, err := nodes[i%len(nodes)].Consume(t.Context(), r.ID, c, time.Now(), time.Now().Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winner = c
				counts["ok"]++
			} else {
				counts[err.Error()]++
			}
		})
	}
	wg.Wait()
	if counts["ok"] != 1 || counts[session.ErrConsumed.Error()] != 49 {
		t.Fatalf("results %v, want 1 ok and 49 already used", counts)
	}
	got, err := nodes[3].ByCookieHash(t.Context(), winner)
	if err != nil || !bytes.Equal(got.CookieHash, winner) {
		t.Fatalf("winner's cookie: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		sentinel bool
		addr     string
		prefix   string
		grace    time.Duration
		tls      bool
	}{
		{"redis://127.0.0.1:6379/0", false, "127.0.0.1:6379", "", 0, false},
		{"redis://:pw@h:1/2?prefix=app1:&expiry_grace=30m&dial_timeout=3s", false, "h:1", "app1:", 30 * time.Minute, false},
		{"rediss://u:pw@cache.example:6380/0", false, "cache.example:6380", "", 0, true},
		{"redis+sentinel://s1:26379/0?master_name=mymaster&addr=s2:26379&password=pw&prefix=x:", true, "s1:26379,s2:26379", "x:", 0, false},
		{"rediss+sentinel://su:spw@s1:26379?master_name=m", true, "s1:26379", "", 0, true},
	} {
		c, err := redisstore.ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		var addr string
		var tls bool
		if tc.sentinel {
			if c.Failover == nil || c.Single != nil {
				t.Errorf("%q: not a Sentinel configuration", tc.url)
				continue
			}
			addr, tls = strings.Join(c.Failover.SentinelAddrs, ","), c.Failover.TLSConfig != nil
		} else {
			if c.Single == nil {
				t.Errorf("%q: not a single-server configuration", tc.url)
				continue
			}
			addr, tls = c.Single.Addr, c.Single.TLSConfig != nil
		}
		if addr != tc.addr || c.Prefix != tc.prefix || c.Grace != tc.grace || tls != tc.tls {
			t.Errorf("%q: addr %s prefix %q grace %v tls %v", tc.url, addr, c.Prefix, c.Grace, tls)
		}
	}
	if c, _ := redisstore.ParseURL("redis+sentinel://s1:26379?master_name=m&password=pw"); c.Failover == nil || c.Failover.Password != "pw" {
		t.Errorf("Sentinel: the password parameter is the servers' password")
	}
	for _, bad := range []string{
		"http://h:1",
		"redis+sentinel://s1:26379/0",               // no master_name
		"redis://:s3cr3tpw@h:1/0?prefix=",           // empty prefix
		"redis://:s3cr3tpw@h:1/0?expiry_grace=soon", // bad duration
		"redis://:s3cr3tpw@h:1/0?bogus=1",           // unknown go-redis option
		"redis://:s3cr3tpw@h:1/notanumber",          // bad db
		"redis+sentinel://h:1/0?master_name=m&password=s3cr3tpw&bogus=1",
		"redis://:s3cr3tpw@[::1",
	} {
		_, err := redisstore.ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("ParseURL(%q) error shows the password: %v", bad, err)
		}
	}
}

// TestOpenUnreachable: a clear error, no password.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := redisstore.Open(t.Context(), "redis://:s3cr3tpw@127.0.0.1:1/0?dial_timeout=1s&max_retries=-1", newBox(t, secretbox.NewKey()))
	if err == nil || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:1") || strings.Contains(err.Error(), "s3cr3tpw") {
		t.Fatalf("Open of an unreachable server: %v", err)
	}
}

// TestListSkipsVanished: List and DeleteByAccount cope with ids whose
// records vanished (expired natively).
func TestListSkipsVanished(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	s := open(t, ns, newBox(t, secretbox.NewKey()))
	ctx := t.Context()
	var ids []string
	for range 3 {
		r := sessiontest.NewRecord("alice")
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	c.Del(ctx, ns+"s:"+ids[1]) // as if Redis had expired it
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d records, %v", len(list), err)
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("List(all): %d records, %v", len(all), err)
	}
	gone, err := s.DeleteByAccount(ctx, "alice", "")
	if err != nil || len(gone) != 2 {
		t.Fatalf("DeleteByAccount: %d records, %v", len(gone), err)
	}
	if n, _ := c.Exists(ctx, ns+"a:alice").Result(); n != 0 {
		t.Errorf("the account set outlived its records")
	}
	got := []string{gone[0].ID, gone[1].ID}
	slices.Sort(got)
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DeleteByAccount removed %v, want %v", got, want)
	}
}
