package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// prefill creates n sessions through the store contract (so that it works
// on every backend), from a few goroutines at once (so that an SQLite
// store commits them in groups). The records look like those of
// create_webmail_session_for_mail_user (one of nAccounts accounts each).
// kind ("live" or "expired") keeps the ids of separate fills apart:
// prefillID(kind, i) is the id of record i. Live records expire at expires;
// expired record i at expires + i ms, so that a sweep, which goes by
// expiry, removes them in the order of i.
func prefill(ctx context.Context, sessions store.Sessions, n, nAccounts int, kind string, expires time.Time) (time.Duration, error) {
	if n > 50_000_000 {
		return 0, fmt.Errorf("prefill: at most 50000000 sessions")
	}
	now := time.Now().Truncate(time.Millisecond)
	created := now
	if expires.Before(created) {
		created = expires.Add(-time.Minute)
	}
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				acct := fmt.Sprintf("bench%05d", i%nAccounts)
				user := fmt.Sprintf("pf%d@%s.test", i, acct)
				r := store.Session{
					ID: prefillID(kind, i), User: user, Account: acct, Service: uapi.ServiceWebmail,
					LoginHash: session.HashSecret(session.NewLoginSecret(user, session.TagMailUser)),
					Creator:   acct, Method: fnCreate, Origin: "127.0.0.1", Locale: "en",
					CreatedAt: created, LastUsed: created, ExpiresAt: expires,
				}
				if kind == "expired" {
					r.ExpiresAt = expires.Add(time.Duration(i) * time.Millisecond)
				}
				var err error
				for range 5 { // a token another session holds is drawn again
					r.Token = session.NewToken()
					if err = sessions.Create(ctx, r); !errors.Is(err, store.ErrExists) {
						break
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("prefill %s sessions: %w", kind, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return time.Since(t0), firstErr
}

// prefillID is the id of the i-th prefilled session of kind.
func prefillID(kind string, i int) string {
	return fmt.Sprintf("pf%s%016d", kind[:2], i)
}

// prefillLeft returns how many of the n expired sessions prefill made are
// still in the store: a sweep removes them in the order of their index, so
// what is left is a suffix, found by bisection.
func prefillLeft(ctx context.Context, sessions store.Sessions, n int) (int, error) {
	var err error
	first := sort.Search(n, func(i int) bool {
		if err != nil {
			return true
		}
		_, e := sessions.Get(ctx, prefillID("expired", i))
		if e != nil && !errors.Is(e, store.ErrNotFound) {
			err = e
		}
		return e == nil
	})
	return n - first, err
}
