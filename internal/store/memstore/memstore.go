// Package memstore keeps the brute-force counters of one process in
// memory: the store.Attempts of a single node on the embedded SQLite
// store, where nothing else counts failures. (A shared store keeps them in
// PostgreSQL or Redis instead, so that every node counts.) Counting in
// memory costs nothing on the request path, where a credential check asks
// for blocks on every request; BENCHMARKS.md has the measurement that
// chose it.
//
// State is bounded: past maxKeys keys, what no longer matters is dropped
// first, and then the oldest unblocked keys.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// maxKeys bounds the keys (addresses and users) and trusted pairs kept.
const maxKeys = 200_000

// Attempts is an in-memory store.Attempts, safe for concurrent use.
type Attempts struct {
	mu      sync.Mutex
	keys    map[store.AttemptKey]*entry
	trusted map[[2]string]time.Time
}

type entry struct {
	fails   []time.Time
	until   time.Time
	strikes int
	forget  time.Time // zero: never blocked
}

var _ store.Attempts = (*Attempts)(nil)

// NewAttempts returns empty counters.
func NewAttempts() *Attempts {
	return &Attempts{keys: map[store.AttemptKey]*entry{}, trusted: map[[2]string]time.Time{}}
}

// Failure implements store.Attempts.
func (a *Attempts) Failure(_ context.Context, key store.AttemptKey, now time.Time, window time.Duration) (store.AttemptState, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.keys[key]
	if e == nil {
		if len(a.keys) >= maxKeys {
			a.shrink(now, window)
		}
		e = &entry{}
		a.keys[key] = e
	}
	if !e.forget.IsZero() && !now.Before(e.forget) {
		e.until, e.strikes, e.forget = time.Time{}, 0, time.Time{}
	}
	cut := now.Add(-window)
	kept := e.fails[:0]
	for _, t := range e.fails {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	e.fails = append(kept, now)
	return store.AttemptState{Failures: len(e.fails), BlockedUntil: e.until, Strikes: e.strikes}, nil
}

// Block implements store.Attempts.
func (a *Attempts) Block(_ context.Context, key store.AttemptKey, strikes int, until, forget time.Time) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.keys[key]
	if e == nil {
		if strikes != 0 {
			return false, nil
		}
		e = &entry{}
		a.keys[key] = e
	}
	if e.strikes != strikes {
		return false, nil
	}
	e.until, e.strikes, e.forget, e.fails = until, strikes+1, forget, nil
	return true, nil
}

// BlockedUntil implements store.Attempts.
func (a *Attempts) BlockedUntil(_ context.Context, keys []store.AttemptKey, now time.Time) ([]time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		if e := a.keys[k]; e != nil && now.Before(e.until) {
			out[i] = e.until
		}
	}
	return out, nil
}

// Trust implements store.Attempts.
func (a *Attempts) Trust(_ context.Context, user, addr string, until time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := [2]string{user, addr}
	if _, ok := a.trusted[k]; !ok && len(a.trusted) >= maxKeys {
		for t, end := range a.trusted {
			if !end.After(until) {
				delete(a.trusted, t)
			}
			if len(a.trusted) < maxKeys/2 {
				break
			}
		}
	}
	a.trusted[k] = until
	return nil
}

// Trusted implements store.Attempts.
func (a *Attempts) Trusted(_ context.Context, user, addr string, now time.Time) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	until, ok := a.trusted[[2]string{user, addr}]
	return ok && now.Before(until), nil
}

// Sweep implements store.Attempts.
func (a *Attempts) Sweep(_ context.Context, now time.Time, keep time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now, keep)
	return nil
}

// sweep drops failures older than keep, blocks past their forget time and
// trusts past their end, and keys with nothing left.
func (a *Attempts) sweep(now time.Time, keep time.Duration) {
	cut := now.Add(-keep)
	for k, e := range a.keys {
		kept := e.fails[:0]
		for _, t := range e.fails {
			if t.After(cut) {
				kept = append(kept, t)
			}
		}
		e.fails = kept
		if !e.forget.IsZero() && !now.Before(e.forget) {
			e.until, e.strikes, e.forget = time.Time{}, 0, time.Time{}
		}
		if len(e.fails) == 0 && e.forget.IsZero() {
			delete(a.keys, k)
		}
	}
	for k, until := range a.trusted {
		if !now.Before(until) {
			delete(a.trusted, k)
		}
	}
}

// shrink makes room when the key limit is reached: first what a sweep
// drops, then (an attack from very many addresses) unblocked keys, down
// to half the limit.
func (a *Attempts) shrink(now time.Time, window time.Duration) {
	a.sweep(now, window)
	for k, e := range a.keys {
		if len(a.keys) < maxKeys/2 {
			return
		}
		if !now.Before(e.until) {
			delete(a.keys, k)
		}
	}
}
