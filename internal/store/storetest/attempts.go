package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// at0 is the attempt counters' "now", in whole seconds (see the package
// comment); at(n) is n seconds after it.
var at0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func at(n int) time.Time { return at0.Add(time.Duration(n) * time.Second) }

func ipKey(v string) store.AttemptKey   { return store.AttemptKey{Kind: store.AttemptIP, Value: v} }
func userKey(v string) store.AttemptKey { return store.AttemptKey{Kind: store.AttemptUser, Value: v} }

func (s suite) attemptTests() []namedTest {
	return []namedTest{
		{"FailureWindow", s.testFailureWindow},
		{"FailureSameInstant", s.testFailureSameInstant},
		{"FailureConcurrent", s.testFailureConcurrent},
		{"BlockCompareAndSwap", s.testBlockCAS},
		{"BlockConcurrent", s.testBlockConcurrent},
		{"BlockedUntil", s.testBlockedUntil},
		{"Trust", s.testTrust},
		{"Sweep", s.testAttemptsSweep},
		{"KindsAreIndependent", s.testAttemptKinds},
	}
}

func (s suite) sharedAttemptTests() []namedTest {
	return []namedTest{
		{"StateAcross", s.testAttemptsAcross},
		{"FailureConcurrentAcross", s.testFailureConcurrentAcross},
		{"BlockConcurrentAcross", s.testBlockConcurrentAcross},
	}
}

func (s suite) attemptsPair(t testing.TB) (a, b store.Attempts) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.Attempts == nil || hb.Attempts == nil {
		t.Fatal("Backend.Pair returned no Attempts this time")
	}
	return ha.Attempts, hb.Attempts
}

// failure records a failure and checks the state it returns.
func failure(t testing.TB, a store.Attempts, key store.AttemptKey, now time.Time, window time.Duration, want store.AttemptState) {
	t.Helper()
	got, err := a.Failure(context.Background(), key, now, window)
	if err != nil {
		t.Errorf("Failure(%v, %v): %v", key, now.Sub(at0), err)
		return
	}
	if got.Failures != want.Failures || got.Strikes != want.Strikes || !got.BlockedUntil.Equal(want.BlockedUntil) {
		t.Errorf("Failure(%v) at at0%+v = {Failures %d, BlockedUntil %v, Strikes %d}, want {%d, %v, %d}",
			key, now.Sub(at0), got.Failures, got.BlockedUntil, got.Strikes, want.Failures, want.BlockedUntil, want.Strikes)
	}
}

func block(t testing.TB, a store.Attempts, key store.AttemptKey, strikes int, until, forget time.Time, want bool) {
	t.Helper()
	ok, err := a.Block(context.Background(), key, strikes, until, forget)
	if err != nil {
		t.Errorf("Block(%v, strikes %d): %v", key, strikes, err)
		return
	}
	if ok != want {
		t.Errorf("Block(%v, strikes %d) = %v, want %v", key, strikes, ok, want)
	}
}

func blockedUntil(t testing.TB, a store.Attempts, keys []store.AttemptKey, now time.Time, want ...time.Time) {
	t.Helper()
	got, err := a.BlockedUntil(context.Background(), keys, now)
	if err != nil {
		t.Errorf("BlockedUntil(%v): %v", keys, err)
		return
	}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("BlockedUntil(%v) at at0%+v = %v, want %v", keys, now.Sub(at0), got, want)
	}
}

func trusted(t testing.TB, a store.Attempts, user, addr string, now time.Time, want bool) {
	t.Helper()
	ok, err := a.Trusted(context.Background(), user, addr, now)
	if err != nil {
		t.Errorf("Trusted(%s, %s): %v", user, addr, err)
		return
	}
	if ok != want {
		t.Errorf("Trusted(%s, %s) at at0%+v = %v, want %v", user, addr, now.Sub(at0), ok, want)
	}
}

type state = store.AttemptState

// testFailureWindow: Failure counts the failures within the window and
// forgets those at or before now-window.
func (s suite) testFailureWindow(t *testing.T) {
	t.Parallel()
	a := s.attempts(t)
	k := ipKey("192.0.2.1")
	const w = time.Minute
	failure(t, a, k, at(0), w, state{Failures: 1})
	failure(t, a, k, at(10), w, state{Failures: 2})
	failure(t, a, k, at(59), w, state{Failures: 3})
	// at(0) is at now-window: forgotten.
	failure(t, a, k, at(60), w, state{Failures: 3})
	// at(10) is at now-window: forgotten; at(59), at(60), at(70) remain.
	failure(t, a, k, at(70), w, state{Failures: 3})
	failure(t, a, k, at(200), w, state{Failures: 1})
	// The window is the caller's: a shorter one forgets more.
	failure(t, a, k, at(205), w, state{Failures: 2})
	failure(t, a, k, at(210), 5*time.Second, state{Failures: 1})
	// Another key is untouched.
	failure(t, a, ipKey("192.0.2.2"), at(210), w, state{Failures: 1})
	failure(t, a, ipKey("2001:db8::1"), at(210), w, state{Failures: 1})
}

// testFailureSameInstant: two failures at the same instant are two.
func (s suite) testFailureSameInstant(t *testing.T) {
	t.Parallel()
	a := s.attempts(t)
	k := userKey("alice")
	for i := 1; i <= 5; i++ {
		failure(t, a, k, at(0), time.Minute, state{Failures: i})
	}
	failure(t, a, k, at(0).Add(time.Millisecond), time.Minute, state{Failures: 6})
}

// raceFailures records Racers failures of key at now at once, spread over
// handles, and returns the Failures each call returned, sorted.
func raceFailures(t *testing.T, handles []store.Attempts, key store.AttemptKey, now time.Time) []int {
	t.Helper()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  []int
	)
	for i := range Racers {
		wg.Go(func() {
			<-start
			st, err := handles[i%len(handles)].Failure(context.Background(), key, now, time.Hour)
			if err != nil {
				t.Errorf("concurrent Failure: %v", err)
				return
			}
			mu.Lock()
			seen = append(seen, st.Failures)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(seen)
	return seen
}

func checkFailureRace(t *testing.T, handles []store.Attempts) {
	k := ipKey("198.51.100.9")
	got := raceFailures(t, handles, k, at(0))
	want := make([]int, Racers)
	for i := range want {
		want[i] = i + 1
	}
	// Each call is one atomic step: the counts returned are 1…Racers.
	if !slices.Equal(got, want) {
		t.Errorf("concurrent Failure calls returned counts %v, want each of 1…%d once", got, Racers)
	}
	failure(t, handles[0], k, at(1), time.Hour, state{Failures: Racers + 1})
}

func (s suite) testFailureConcurrent(t *testing.T) {
	t.Parallel()
	checkFailureRace(t, []store.Attempts{s.attempts(t)})
}

// testBlockCAS: Block is a compare-and-swap on the strikes; it forgets
// the failures.
func (s suite) testBlockCAS(t *testing.T) {
	t.Parallel()
	a := s.attempts(t)
	k := userKey("alice")
	// A key never seen has 0 strikes.
	block(t, a, k, 1, at(100), at(3600), false)
	failure(t, a, k, at(0), time.Hour, state{Failures: 1})
	failure(t, a, k, at(1), time.Hour, state{Failures: 2})
	block(t, a, k, 0, at(300), at(3600), true)
	// Another node saw the same crossing: too late.
	block(t, a, k, 0, at(900), at(7200), false)
	blockedUntil(t, a, []store.AttemptKey{k}, at(2), at(300))
	// The failures are forgotten; the block and the strike are remembered.
	failure(t, a, k, at(2), time.Hour, state{Failures: 1, BlockedUntil: at(300), Strikes: 1})
	failure(t, a, k, at(3), time.Hour, state{Failures: 2, BlockedUntil: at(300), Strikes: 1})
	block(t, a, k, 2, at(1000), at(7200), false)
	block(t, a, k, 1, at(1000), at(7200), true)
	failure(t, a, k, at(4), time.Hour, state{Failures: 1, BlockedUntil: at(1000), Strikes: 2})
	block(t, a, k, 1, at(2000), at(7200), false)
	block(t, a, k, 3, at(2000), at(7200), false)
	blockedUntil(t, a, []store.AttemptKey{k}, at(5), at(1000))
	// A block may end before the previous one would have (the caller's
	// policy): the last block counts.
	block(t, a, k, 2, at(500), at(7200), true)
	blockedUntil(t, a, []store.AttemptKey{k}, at(5), at(500))
	failure(t, a, k, at(6), time.Hour, state{Failures: 1, BlockedUntil: at(500), Strikes: 3})
	// After the block ends, the key is not blocked but its strikes and
	// the end of its last block are remembered.
	blockedUntil(t, a, []store.AttemptKey{k}, at(600), time.Time{})
	failure(t, a, k, at(601), time.Hour, state{Failures: 2, BlockedUntil: at(500), Strikes: 3})
	block(t, a, k, 3, at(1200), at(7200), true)
}

// raceBlock calls Block(key, strikes, …) from Racers goroutines at once,
// spread over handles, and returns how many succeeded.
func raceBlock(t *testing.T, handles []store.Attempts, key store.AttemptKey, strikes int) int {
	t.Helper()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
	)
	for i := range Racers {
		wg.Go(func() {
			<-start
			ok, err := handles[i%len(handles)].Block(context.Background(), key, strikes, at(100+i), at(3600))
			if err != nil {
				t.Errorf("concurrent Block: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func (s suite) testBlockConcurrent(t *testing.T) {
	t.Parallel()
	a := s.attempts(t)
	k := userKey("alice")
	if n := raceBlock(t, []store.Attempts{a}, k, 0); n != 1 {
		t.Fatalf("%d of %d concurrent Block(strikes 0) calls succeeded, want exactly 1", n, Racers)
	}
	st, err := a.Failure(context.Background(), k, at(1), time.Hour)
	must(t, err)
	if st.Strikes != 1 {
		t.Fatalf("strikes %d after the race, want 1", st.Strikes)
	}
	if n := raceBlock(t, []store.Attempts{a}, k, 1); n != 1 {
		t.Fatalf("%d of %d concurrent Block(strikes 1) calls succeeded, want exactly 1", n, Racers)
	}
	st, err = a.Failure(context.Background(), k, at(2), time.Hour)
	must(t, err)
	if st.Strikes != 2 || st.Failures != 1 {
		t.Fatalf("after the second race: %+v, want strikes 2, failures 1", st)
	}
}

// testBlockedUntil: the end of each key's block, in key order, zero for
// keys that are not blocked at now (the end is exclusive).
func (s suite) testBlockedUntil(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := s.attempts(t)
	k1, k2, k3, k4, k5 := ipKey("192.0.2.1"), ipKey("192.0.2.2"), userKey("carol"), userKey("dave"), ipKey("2001:db8::5")
	block(t, a, k1, 0, at(100), at(10000), true)
	block(t, a, k3, 0, at(10), at(10000), true)
	failure(t, a, k4, at(0), time.Hour, state{Failures: 1})
	block(t, a, k5, 0, at(1000), at(10000), true)
	keys := []store.AttemptKey{k1, k2, k3, k4, k5}
	var zero time.Time
	blockedUntil(t, a, keys, at(50), at(100), zero, zero, zero, at(1000))
	blockedUntil(t, a, keys, at(5), at(100), zero, at(10), zero, at(1000))
	blockedUntil(t, a, keys, at(99), at(100), zero, zero, zero, at(1000))
	blockedUntil(t, a, keys, at(100), zero, zero, zero, zero, at(1000))
	blockedUntil(t, a, keys, at(100).Add(-time.Millisecond), at(100), zero, zero, zero, at(1000))
	// Any order, repeats, one key.
	blockedUntil(t, a, []store.AttemptKey{k5, k2, k1, k5}, at(0), at(1000), zero, at(100), at(1000))
	blockedUntil(t, a, []store.AttemptKey{k2}, at(0), zero)
	got, err := a.BlockedUntil(ctx, nil, at(0))
	if err != nil || len(got) != 0 {
		t.Errorf("BlockedUntil(no keys) = %v, %v; want none", got, err)
	}
}

// testTrust: Trust exempts an address from a user's block until its end
// (exclusive).
func (s suite) testTrust(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := s.attempts(t)
	trusted(t, a, "alice", "192.0.2.1", at(0), false)
	must(t, a.Trust(ctx, "alice", "192.0.2.1", at(100)))
	trusted(t, a, "alice", "192.0.2.1", at(0), true)
	trusted(t, a, "alice", "192.0.2.1", at(99), true)
	trusted(t, a, "alice", "192.0.2.1", at(100).Add(-time.Millisecond), true)
	trusted(t, a, "alice", "192.0.2.1", at(100), false)
	trusted(t, a, "alice", "192.0.2.1", at(200), false)
	trusted(t, a, "alice", "192.0.2.2", at(0), false)
	trusted(t, a, "bob", "192.0.2.1", at(0), false)
	trusted(t, a, "info@alice.test", "192.0.2.1", at(0), false)
	// Trusting again moves the end.
	must(t, a.Trust(ctx, "alice", "192.0.2.1", at(300)))
	trusted(t, a, "alice", "192.0.2.1", at(200), true)
	must(t, a.Trust(ctx, "info@alice.test", "2001:db8::1", at(100)))
	trusted(t, a, "info@alice.test", "2001:db8::1", at(50), true)
	trusted(t, a, "alice", "2001:db8::1", at(50), false)
	// Trust is not a block and does not touch the counters.
	failure(t, a, userKey("alice"), at(1), time.Hour, state{Failures: 1})
	blockedUntil(t, a, []store.AttemptKey{userKey("alice"), ipKey("192.0.2.1")}, at(1), time.Time{}, time.Time{})
}

// testAttemptsSweep: Sweep drops failures older than keep, blocks past
// their forget time (the key's strikes start again at 0) and trusts past
// their end, and nothing else.
func (s suite) testAttemptsSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := s.attempts(t)
	kOld, kMix, kNew := ipKey("192.0.2.1"), ipKey("192.0.2.2"), userKey("alice")
	kGone, kKept := ipKey("192.0.2.3"), userKey("bob")
	failure(t, a, kOld, at(0), time.Hour, state{Failures: 1})
	failure(t, a, kOld, at(10), time.Hour, state{Failures: 2})
	failure(t, a, kMix, at(100), time.Hour, state{Failures: 1})
	failure(t, a, kMix, at(150), time.Hour, state{Failures: 2})
	failure(t, a, kNew, at(190), time.Hour, state{Failures: 1})
	block(t, a, kGone, 0, at(50), at(150), true)
	block(t, a, kKept, 0, at(50), at(1000), true)
	must(t, a.Trust(ctx, "carol", "192.0.2.9", at(150)))
	must(t, a.Trust(ctx, "carol", "192.0.2.10", at(500)))

	// At at(200) with keep 60 s: failures before at(140) go.
	must(t, a.Sweep(ctx, at(200), time.Minute))

	failure(t, a, kOld, at(201), time.Hour, state{Failures: 1})
	failure(t, a, kMix, at(201), time.Hour, state{Failures: 2})
	failure(t, a, kNew, at(201), time.Hour, state{Failures: 2})
	// kGone's block is forgotten (even as seen from before its end);
	// kKept's is remembered with its strike.
	blockedUntil(t, a, []store.AttemptKey{kGone, kKept}, at(40), time.Time{}, at(50))
	failure(t, a, kGone, at(201), time.Hour, state{Failures: 1})
	failure(t, a, kKept, at(201), time.Hour, state{Failures: 1, BlockedUntil: at(50), Strikes: 1})
	block(t, a, kGone, 1, at(400), at(1000), false)
	block(t, a, kGone, 0, at(400), at(1000), true)
	// The ended trust is gone (even as seen from before its end); the
	// other stays.
	trusted(t, a, "carol", "192.0.2.9", at(100), false)
	trusted(t, a, "carol", "192.0.2.10", at(201), true)

	// Sweeping again changes nothing more.
	must(t, a.Sweep(ctx, at(200), time.Minute))
	failure(t, a, kMix, at(202), time.Hour, state{Failures: 3})
	failure(t, a, kKept, at(202), time.Hour, state{Failures: 2, BlockedUntil: at(50), Strikes: 1})
	trusted(t, a, "carol", "192.0.2.10", at(202), true)
	// An empty store sweeps fine.
	must(t, s.attempts(t).Sweep(ctx, at(0), time.Minute))
}

// testAttemptKinds: an address and a user with the same text are two keys.
func (s suite) testAttemptKinds(t *testing.T) {
	t.Parallel()
	a := s.attempts(t)
	ip, user := ipKey("alice"), userKey("alice")
	failure(t, a, ip, at(0), time.Hour, state{Failures: 1})
	failure(t, a, ip, at(1), time.Hour, state{Failures: 2})
	failure(t, a, user, at(2), time.Hour, state{Failures: 1})
	block(t, a, ip, 0, at(100), at(1000), true)
	blockedUntil(t, a, []store.AttemptKey{ip, user}, at(3), at(100), time.Time{})
	failure(t, a, user, at(4), time.Hour, state{Failures: 2})
	block(t, a, user, 0, at(50), at(1000), true)
	blockedUntil(t, a, []store.AttemptKey{user, ip}, at(5), at(50), at(100))
	failure(t, a, ip, at(6), time.Hour, state{Failures: 1, BlockedUntil: at(100), Strikes: 1})
	failure(t, a, user, at(7), time.Hour, state{Failures: 1, BlockedUntil: at(50), Strikes: 1})
	block(t, a, user, 1, at(60), at(1000), true)
	failure(t, a, ip, at(8), time.Hour, state{Failures: 2, BlockedUntil: at(100), Strikes: 1})
}

// testAttemptsAcross: what one node records, the other sees; the failures
// of both add up.
func (s suite) testAttemptsAcross(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.attemptsPair(t)
	k := ipKey("192.0.2.77")
	handles := []store.Attempts{a, b}
	for i := range 10 {
		failure(t, handles[i%2], k, at(i), time.Hour, state{Failures: i + 1})
	}
	block(t, a, k, 0, at(100), at(1000), true)
	block(t, b, k, 0, at(200), at(1000), false)
	blockedUntil(t, b, []store.AttemptKey{k}, at(20), at(100))
	failure(t, b, k, at(21), time.Hour, state{Failures: 1, BlockedUntil: at(100), Strikes: 1})
	must(t, a.Trust(ctx, "alice", "192.0.2.77", at(100)))
	trusted(t, b, "alice", "192.0.2.77", at(50), true)
	// A sweep on one node drops what the other recorded.
	u := userKey("bob")
	failure(t, a, u, at(0), time.Hour, state{Failures: 1})
	must(t, b.Sweep(ctx, at(500), time.Minute))
	failure(t, a, u, at(501), time.Hour, state{Failures: 1})
	trusted(t, a, "alice", "192.0.2.77", at(50), false)
	failure(t, a, k, at(501), time.Hour, state{Failures: 1, BlockedUntil: at(100), Strikes: 1})
}

func (s suite) testFailureConcurrentAcross(t *testing.T) {
	t.Parallel()
	a, b := s.attemptsPair(t)
	checkFailureRace(t, []store.Attempts{a, b})
}

func (s suite) testBlockConcurrentAcross(t *testing.T) {
	t.Parallel()
	a, b := s.attemptsPair(t)
	k := userKey("alice")
	for strikes := range 3 {
		if n := raceBlock(t, []store.Attempts{a, b}, k, strikes); n != 1 {
			t.Fatalf("%d of %d concurrent Block(strikes %d) calls over two handles succeeded, want exactly 1", n, Racers, strikes)
		}
		st, err := b.Failure(context.Background(), k, at(strikes), time.Hour)
		must(t, err)
		if st.Strikes != strikes+1 || st.Failures != 1 {
			t.Fatalf("after race %d: %+v, want strikes %d and failures 1", strikes, st, strikes+1)
		}
	}
	if got := fmt.Sprint(raceBlock(t, []store.Attempts{a, b}, k, 0)); got != "0" {
		t.Fatalf("%s concurrent Block calls with stale strikes succeeded, want none", got)
	}
}
