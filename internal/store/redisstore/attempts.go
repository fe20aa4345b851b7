package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/store"
)

// Attempts is the store.Attempts view of a Store (Store.Attempts): the
// brute-force counters, shared by every node that uses the same Redis and
// prefix.
//
// Layout, under the prefix P (the session store's prefix):
//
//	P att:<kind>:<h>:f   sorted set: the key's failures, scored by their
//	                     time (Unix ms); members are unique per failure
//	P att:<kind>:<h>:b   hash: the key's block: until (Unix ms), strikes,
//	                     forget (Unix ms)
//	P att:trust:<t>      string: until when (Unix ms) an address is exempt
//	                     from a user's block
//	P att:idx:f          sorted set: "<kind>:<h>" of every key with
//	                     failures, scored by its oldest failure
//	P att:idx:b          sorted set: "<kind>:<h>" of every block, scored by
//	                     its forget time
//	P att:idx:t          sorted set: "<t>" of every trust, scored by its end
//
// where kind is "ip" or "user", h is the unpadded base64url SHA-256 of the
// key's Value and t the one of the user and the address (so that no text
// can break the key structure, and a key's length is bounded). No session
// key starts with "att:".
//
// Each method is one Lua script (BlockedUntil: one for all its keys), so
// each step is atomic across nodes. Times are kept in Unix milliseconds;
// decisions compare them with the caller's now at that precision.
//
// Forgetting: Failure drops the key's failures at or before now-window,
// and its block if the block's forget time is at or before now (its
// strikes start again from 0); BlockedUntil and Trusted compare the end of
// blocks and trusts with now. Sweep drops, through the three indexes, the
// failures at or before now-keep, the blocks whose forget time is at or
// before now and the trusts that ended at or before now, in batches of
// sweepBatch per script. Besides, Redis drops each key by itself (native
// expiry): failures a minute after the window of the key's last failure,
// blocks a minute after their forget time, trusts a minute after their
// end (the minute is a margin for clocks of nodes that run behind
// Redis's). So memory stays bounded even if no node sweeps; only the
// index members of dropped keys wait for a Sweep.
//
// A key keeps at most the newest maxFailures failures, so that one key
// under attack cannot grow without bound; a limit above that number is
// never reached.
type Attempts struct {
	s *Store
	// node and seq make the members of the failure sets unique across
	// nodes: a random id of this view and a counter.
	node string
	seq  atomic.Uint64
}

var _ store.Attempts = (*Attempts)(nil)

// maxFailures bounds the failures kept per key.
const maxFailures = 10000

// expirySlack is how long Redis keeps attempt state past the time it
// stops mattering (see Attempts).
const expirySlack = time.Minute

func newAttempts(s *Store) *Attempts {
	b := make([]byte, 8)
	rand.Read(b)
	return &Attempts{s: s, node: hex.EncodeToString(b)}
}

// keyHash returns the key segment for text.
func keyHash(b []byte) string {
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// attemptKeys are the Redis keys of one attempt key.
type attemptKeys struct {
	fails, block string // its failures and its block
	member       string // its member in the indexes
}

// keys returns the Redis keys of k.
func (a *Attempts) keys(k store.AttemptKey) (attemptKeys, error) {
	if k.Kind != store.AttemptIP && k.Kind != store.AttemptUser {
		return attemptKeys{}, store.Errorf(store.ErrInvalid, "attempt key kind %s is neither “%s” nor “%s”", quote(k.Kind), store.AttemptIP, store.AttemptUser)
	}
	m := k.Kind + ":" + keyHash([]byte(k.Value))
	base := a.s.prefix + "att:" + m + ":"
	return attemptKeys{fails: base + "f", block: base + "b", member: m}, nil
}

// The indexes (see Attempts).
func (a *Attempts) failIndex() string  { return a.s.prefix + "att:idx:f" }
func (a *Attempts) blockIndex() string { return a.s.prefix + "att:idx:b" }
func (a *Attempts) trustIndex() string { return a.s.prefix + "att:idx:t" }

// trustKey returns the key of (user, addr) and its member in the trust
// index: the hash of the user's length, the user and the address, so that
// no two pairs share it.
func (a *Attempts) trustKey(user, addr string) (key, member string) {
	b := binary.BigEndian.AppendUint64(nil, uint64(len(user)))
	b = append(append(b, user...), addr...)
	m := keyHash(b)
	return a.s.prefix + "att:trust:" + m, m
}

// run runs an attempts script within the store's bound.
func (a *Attempts) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	return sc.Run(ctx, a.s.rdb, keys, args...).Result()
}

// msTime reads a time in Unix ms as a script returned it ("" or nil for
// none).
func msTime(v any) (time.Time, error) {
	s, _ := v.(string)
	if s == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: stored time %q: %w", what, s, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Failure implements store.Attempts.
func (a *Attempts) Failure(ctx context.Context, key store.AttemptKey, now time.Time, window time.Duration) (store.AttemptState, error) {
	ks, err := a.keys(key)
	if err != nil {
		return store.AttemptState{}, err
	}
	if window < time.Millisecond {
		return store.AttemptState{}, store.Errorf(store.ErrInvalid, "the window of failed attempts must be at least 1ms, not %v", window)
	}
	member := a.node + "." + strconv.FormatUint(a.seq.Add(1), 36)
	res, err := a.run(ctx, scriptFailure, []string{ks.fails, ks.block, a.failIndex(), a.blockIndex()},
		now.UnixMilli(), window.Milliseconds(), member, (window + expirySlack).Milliseconds(), maxFailures, ks.member)
	if err != nil {
		return store.AttemptState{}, a.s.fail(ctx, "failure", err)
	}
	v, _ := res.([]any)
	if len(v) != 3 {
		return store.AttemptState{}, fmt.Errorf("%s: failure: unexpected reply %v", what, res)
	}
	n, _ := v[0].(int64)
	strikes, _ := v[2].(int64)
	until, err := msTime(v[1])
	if err != nil {
		return store.AttemptState{}, err
	}
	return store.AttemptState{Failures: int(n), BlockedUntil: until, Strikes: int(strikes)}, nil
}

// Block implements store.Attempts. The block is kept until the later of
// forget and until (a block is never forgotten before it ends).
func (a *Attempts) Block(ctx context.Context, key store.AttemptKey, strikes int, until, forget time.Time) (bool, error) {
	ks, err := a.keys(key)
	if err != nil {
		return false, err
	}
	if strikes < 0 {
		return false, store.Errorf(store.ErrInvalid, "a strike count cannot be negative (%d)", strikes)
	}
	f := max(forget.UnixMilli(), until.UnixMilli())
	res, err := a.run(ctx, scriptBlock, []string{ks.fails, ks.block, a.failIndex(), a.blockIndex()},
		strikes, until.UnixMilli(), f, expirySlack.Milliseconds(), ks.member)
	if err != nil {
		return false, a.s.fail(ctx, "block", err)
	}
	switch res {
	case int64(1):
		return true, nil
	case int64(0):
		return false, nil
	}
	return false, fmt.Errorf("%s: block: unexpected reply %v", what, res)
}

// BlockedUntil implements store.Attempts with one script for all keys.
func (a *Attempts) BlockedUntil(ctx context.Context, keys []store.AttemptKey, now time.Time) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	bks := make([]string, len(keys))
	for i, k := range keys {
		ks, err := a.keys(k)
		if err != nil {
			return nil, err
		}
		bks[i] = ks.block
	}
	res, err := a.run(ctx, scriptBlockedUntil, bks, now.UnixMilli())
	if err != nil {
		return nil, a.s.fail(ctx, "blocked until", err)
	}
	v, _ := res.([]any)
	if len(v) != len(keys) {
		return nil, fmt.Errorf("%s: blocked until: unexpected reply %v", what, res)
	}
	for i := range v {
		if out[i], err = msTime(v[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Trust implements store.Attempts: the last call for (user, addr) sets
// the end of its trust.
func (a *Attempts) Trust(ctx context.Context, user, addr string, until time.Time) error {
	key, member := a.trustKey(user, addr)
	_, err := a.run(ctx, scriptTrust, []string{key, a.trustIndex()}, until.UnixMilli(), expirySlack.Milliseconds(), member)
	return a.s.fail(ctx, "trust", err)
}

// Trusted implements store.Attempts.
func (a *Attempts) Trusted(ctx context.Context, user, addr string, now time.Time) (bool, error) {
	ctx, cancel := a.s.bound(ctx)
	defer cancel()
	key, _ := a.trustKey(user, addr)
	v, err := a.s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, a.s.fail(ctx, "trusted", err)
	}
	until, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: trusted: stored time %q: %w", what, v, err)
	}
	return until > now.UnixMilli(), nil
}

// Sweep implements store.Attempts: each batch is one script over the
// three indexes (see Attempts), so sweepers on several nodes share the
// work.
func (a *Attempts) Sweep(ctx context.Context, now time.Time, keep time.Duration) error {
	for {
		res, err := a.run(ctx, scriptSweepAttempts, nil, a.s.prefix, now.UnixMilli(), now.Add(-keep).UnixMilli(), sweepBatch)
		if err != nil {
			return a.s.fail(ctx, "sweep attempts", err)
		}
		if res != int64(1) {
			return nil
		}
	}
}
