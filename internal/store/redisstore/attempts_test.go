package redisstore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/storetest"
)

func openAttempts(t *testing.T, ns string) *redisstore.Attempts {
	t.Helper()
	return open(t, ns, newBox(t, secretbox.NewKey())).Attempts()
}

func ipKey(v string) store.AttemptKey   { return store.AttemptKey{Kind: store.AttemptIP, Value: v} }
func userKey(v string) store.AttemptKey { return store.AttemptKey{Kind: store.AttemptUser, Value: v} }

// TestAttemptsSteps walks one key through failures, a block, a second
// block and its forgetting.
func TestAttemptsSteps(t *testing.T) {
	t.Parallel()
	a := openAttempts(t, redistest.Namespace(t))
	ctx := t.Context()
	k := ipKey("192.0.2.1")
	fail := func(now time.Time, want store.AttemptState) {
		t.Helper()
		got, err := a.Failure(ctx, k, now, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got.Failures != want.Failures || got.Strikes != want.Strikes || !got.BlockedUntil.Equal(msOrZero(want.BlockedUntil)) {
			t.Fatalf("Failure at t0+%v: %+v, want %+v", now.Sub(t0), got, want)
		}
	}
	fail(t0, store.AttemptState{Failures: 1})
	fail(t0.Add(time.Second), store.AttemptState{Failures: 2})
	fail(t0.Add(2*time.Second), store.AttemptState{Failures: 3})
	// The window is 5 s: at t0+5s the failure at t0 is forgotten, at t0+7s
	// the one at t0+2s too.
	fail(t0.Add(5*time.Second), store.AttemptState{Failures: 3})
	fail(t0.Add(7*time.Second), store.AttemptState{Failures: 2})

	until, forget := t0.Add(10*time.Minute), t0.Add(time.Hour)
	if ok, err := a.Block(ctx, k, 1, until, forget); err != nil || ok {
		t.Fatalf("Block with the wrong strikes: %v, %v", ok, err)
	}
	if ok, err := a.Block(ctx, k, 0, until, forget); err != nil || !ok {
		t.Fatalf("Block: %v, %v", ok, err)
	}
	if ok, err := a.Block(ctx, k, 0, until, forget); err != nil || ok {
		t.Fatalf("second Block with the same strikes: %v, %v", ok, err)
	}
	// The block forgot the failures.
	fail(t0.Add(8*time.Second), store.AttemptState{Failures: 1, BlockedUntil: until, Strikes: 1})

	got, err := a.BlockedUntil(ctx, []store.AttemptKey{k, userKey("192.0.2.1"), ipKey("192.0.2.2")}, t0.Add(time.Minute))
	if err != nil || len(got) != 3 || !got[0].Equal(ms(until)) || !got[1].IsZero() || !got[2].IsZero() {
		t.Fatalf("BlockedUntil: %v, %v", got, err)
	}
	if got[0].Location() != time.UTC {
		t.Errorf("BlockedUntil in %v, want UTC", got[0].Location())
	}
	if got, err := a.BlockedUntil(ctx, []store.AttemptKey{k}, until); err != nil || !got[0].IsZero() {
		t.Fatalf("BlockedUntil at the end of the block: %v, %v", got, err)
	}
	if got, err := a.BlockedUntil(ctx, nil, t0); err != nil || len(got) != 0 {
		t.Fatalf("BlockedUntil of no keys: %v, %v", got, err)
	}

	// A second block; its state outlives the first block's end.
	until2, forget2 := t0.Add(30*time.Minute), t0.Add(2*time.Hour)
	if ok, err := a.Block(ctx, k, 1, until2, forget2); err != nil || !ok {
		t.Fatalf("second Block: %v, %v", ok, err)
	}
	fail(t0.Add(time.Hour+30*time.Minute), store.AttemptState{Failures: 1, BlockedUntil: until2, Strikes: 2})
	// Past its forget time the key starts again.
	fail(forget2, store.AttemptState{Failures: 1})
	if ok, err := a.Block(ctx, k, 0, forget2.Add(time.Minute), forget2.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("Block after the state was forgotten: %v, %v", ok, err)
	}
}

// TestAttemptsTrust: trusts are per (user, address) and end at until.
func TestAttemptsTrust(t *testing.T) {
	t.Parallel()
	a := openAttempts(t, redistest.Namespace(t))
	ctx := t.Context()
	trusted := func(user, addr string, now time.Time) bool {
		t.Helper()
		ok, err := a.Trusted(ctx, user, addr, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if trusted("ab", "c", t0) {
		t.Fatal("trusted before Trust")
	}
	if err := a.Trust(ctx, "ab", "c", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !trusted("ab", "c", t0) || !trusted("ab", "c", t0.Add(time.Hour-time.Millisecond)) {
		t.Error("not trusted within the trust")
	}
	if trusted("ab", "c", t0.Add(time.Hour)) {
		t.Error("trusted at its end")
	}
	if trusted("a", "bc", t0) || trusted("ab", "d", t0) || trusted("abc", "", t0) {
		t.Error("a trust reached another (user, address)")
	}
	// The last Trust sets the end.
	if err := a.Trust(ctx, "ab", "c", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !trusted("ab", "c", t0.Add(90*time.Minute)) {
		t.Error("Trust did not move the end")
	}
}

// TestAttemptKeys: kinds, values and trusts do not collide, whatever text
// the values hold, and every key lies under the prefix's "att:" segment.
func TestAttemptKeys(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	s := open(t, ns, newBox(t, secretbox.NewKey()))
	a := s.Attempts()
	ctx := t.Context()
	values := []string{"x", "x:f", "x:b", "*", "s:x", "a:x", "exp", "", "\x00", "é", strings.Repeat("long", 5000)}
	var keys []store.AttemptKey
	for _, v := range values {
		keys = append(keys, ipKey(v), userKey(v))
	}
	for i, k := range keys {
		// Key i gets i+1 failures.
		for n := range i + 1 {
			st, err := a.Failure(ctx, k, t0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if st.Failures != n+1 {
				t.Fatalf("%s %q: %d failures, want %d", k.Kind, k.Value, st.Failures, n+1)
			}
		}
		if ok, err := a.Block(ctx, k, 0, t0.Add(time.Duration(i+1)*time.Minute), t0.Add(time.Hour)); err != nil || !ok {
			t.Fatalf("Block(%s %q): %v, %v", k.Kind, k.Value, ok, err)
		}
	}
	got, err := a.BlockedUntil(ctx, keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if want := t0.Add(time.Duration(i+1) * time.Minute); !got[i].Equal(ms(want)) {
			t.Errorf("%s %q: blocked until %v, want %v", k.Kind, k.Value, got[i], want)
		}
	}
	// A session with the same texts is not disturbed, nor disturbs.
	r := storetest.NewSessionRecord("x")
	r.ID = "att:ip:x"
	if err := s.Sessions().Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, k := range redistest.Keys(t, c, ns) {
		rest := strings.TrimPrefix(k, ns)
		if strings.HasPrefix(rest, "att:") {
			if len(rest) > 60 {
				t.Errorf("attempt key %q is not bounded", rest)
			}
			continue
		}
		if !strings.HasPrefix(rest, "s:") && !strings.HasPrefix(rest, "t:") && !strings.HasPrefix(rest, "l:") &&
			!strings.HasPrefix(rest, "a:") && rest != "exp" {
			t.Errorf("unexpected key %q", rest)
		}
	}
	if _, err := s.Sessions().Get(ctx, r.ID); err != nil {
		t.Fatal(err)
	}

	// Unknown kinds and impossible arguments are ErrInvalid.
	if _, err := a.Failure(ctx, store.AttemptKey{Kind: "mailbox", Value: "x"}, t0, time.Minute); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Failure of an unknown kind: %v", err)
	}
	if _, err := a.BlockedUntil(ctx, []store.AttemptKey{{Value: "x"}}, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BlockedUntil of an empty kind: %v", err)
	}
	if _, err := a.Failure(ctx, ipKey("x"), t0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Failure with no window: %v", err)
	}
	if _, err := a.Block(ctx, ipKey("x"), -1, t0, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Block with negative strikes: %v", err)
	}
}

// TestAttemptsNativeExpiry: Redis forgets attempt state by itself, a
// minute after it stops mattering (by the server's clock); Sweep drops it
// at once, with the indexes.
func TestAttemptsNativeExpiry(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	a := openAttempts(t, ns)
	ctx := t.Context()
	now := time.Now()
	near := func(what string, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want); d < -time.Second || d > time.Second {
			t.Errorf("%s expires at %v, want %v", what, got, want)
		}
	}
	expiry := func(key string) time.Time {
		t.Helper()
		at, err := c.PExpireTime(ctx, key).Result()
		if err != nil || at < 0 {
			t.Fatalf("PEXPIRETIME %s: %v, %v", key, at, err)
		}
		return time.UnixMilli(at.Milliseconds())
	}
	find := func(pattern string) string {
		t.Helper()
		keys := redistest.Keys(t, c, ns+pattern)
		if len(keys) != 1 {
			t.Fatalf("keys %s*: %v", pattern, keys)
		}
		return keys[0]
	}

	k := ipKey("192.0.2.1")
	if _, err := a.Failure(ctx, k, now, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	fk := find("att:ip:")
	if !strings.HasSuffix(fk, ":f") {
		t.Fatalf("failure key %s", fk)
	}
	near("the failures", expiry(fk), now.Add(6*time.Minute))

	// A block is kept until forget (at least until); the failures go.
	if ok, err := a.Block(ctx, k, 0, now.Add(10*time.Minute), now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n, _ := c.Exists(ctx, fk).Result(); n != 0 {
		t.Error("the failures outlived the block")
	}
	bk := find("att:ip:")
	near("the block", expiry(bk), now.Add(time.Hour+time.Minute))
	u := userKey("alice")
	if ok, err := a.Block(ctx, u, 0, now.Add(2*time.Hour), now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	near("a block forgotten before its end", expiry(find("att:user:")), now.Add(2*time.Hour+time.Minute))

	// State that no longer matters by the server's clock stays a minute.
	if ok, err := a.Block(ctx, ipKey("192.0.2.9"), 0, now.Add(-2*time.Hour), now.Add(-time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	h := sha256.Sum256([]byte("192.0.2.9"))
	near("a block forgotten already", expiry(ns+"att:ip:"+base64.RawURLEncoding.EncodeToString(h[:])+":b"), now.Add(time.Minute))
	if err := a.Trust(ctx, "alice", "192.0.2.1", now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	near("a trust", expiry(find("att:trust:")), now.Add(24*time.Hour+time.Minute))

	var state []string
	for _, key := range redistest.Keys(t, c, ns) {
		if strings.HasPrefix(key, ns+"att:idx:") {
			continue // the indexes, which Sweep cleans
		}
		state = append(state, key)
		if e := expiry(key); e.After(now.Add(24*time.Hour + 2*time.Minute)) {
			t.Errorf("%s expires at %v", key, e)
		}
	}
	if len(state) != 4 {
		t.Errorf("keys %v, want three blocks and a trust", state)
	}
	// A Sweep when everything is past drops every key, indexes included.
	if err := a.Sweep(ctx, now.Add(48*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if keys := redistest.Keys(t, c, ns); len(keys) != 0 {
		t.Errorf("keys after Sweep: %v", keys)
	}
}

// TestAttemptsManyNodes: the failures of five nodes add up, and of the
// nodes that block a key at once with the same strikes exactly one does.
func TestAttemptsManyNodes(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	var nodes []*redisstore.Attempts
	for range 5 {
		nodes = append(nodes, openAttempts(t, ns))
	}
	ctx := t.Context()
	k := userKey("alice")
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := nodes[i%len(nodes)].Failure(ctx, k, t0, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, err := nodes[0].Failure(ctx, k, t0, time.Hour)
	if err != nil || st.Failures != n+1 {
		t.Fatalf("failures after %d on five nodes: %+v, %v", n, st, err)
	}
	var mu sync.Mutex
	won := 0
	for i := range 50 {
		wg.Go(func() {
			ok, err := nodes[i%len(nodes)].Block(ctx, k, 0, t0.Add(time.Minute), t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d nodes blocked the key, want 1", won)
	}
	if st, err := nodes[4].Failure(ctx, k, t0, time.Hour); err != nil || st.Strikes != 1 || st.Failures != 1 {
		t.Fatalf("state after the block: %+v, %v", st, err)
	}
}

func msOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return ms(t)
}
