// Package redisstore keeps uapid's shared state in Redis, for several
// uapid nodes that share it: the session records (store.Sessions), the
// sign-on tickets bound to them (store.Tickets), the brute-force attempt
// counters (store.Attempts) and the OAuth codes and tokens that hang off
// the sessions (store.OAuth, oauth.go). The directory stays in SQL
// (package sqlstore).
//
// A *Store is one client (Open, Ping, Close); Sessions and Attempts return
// its two views, which implement the two interfaces (they are two types
// because both interfaces have a Sweep method, with different signatures).
//
// Guarantees beyond those of the interfaces:
//   - Every operation that checks and changes is one Lua script, which
//     Redis runs atomically: consume-once holds across any number of
//     nodes, a record is removed, and returned, by exactly one caller, and
//     the attempt counters of every node add up.
//   - Expiry is native. A session record and its index keys carry a Redis
//     expiry (PEXPIREAT) of ExpiresAt plus a grace period (default one
//     hour), moved by Consume and Touch (the idle timeout). Until then an
//     expired record stays visible, so that lookups can tell "expired" from
//     "unknown", and Sweep returns it for the caller to release its
//     temporary database user. If no node sweeps within the grace period,
//     Redis drops the record by itself; the temporary-user sweeper then
//     finds the session gone and drops the user. Attempt state expires
//     natively too (see Attempts).
//   - Keys are namespaced by a prefix (default "uapid:"), so several
//     installations can share one Redis database. The session layout is
//     the one of the previous release (internal/session/redisstore), so
//     that a rolling upgrade logs nobody out; see scripts.go.
//   - ReturnURL and TempPass are sealed with a secretbox.Box (bound to the
//     record id and field); the login and cookie hashes are stored as they
//     are.
//   - An error for which Redis is to blame as a server that cannot be
//     reached (refused or reset connections, timeouts, a full connection
//     pool, a server that is still loading its data set or has no primary)
//     satisfies errors.Is(err, store.ErrUnavailable). A client from Open
//     never waits long for a server that does not answer; see ParseURL
//     and Options.Timeout.
//
// The session scripts name keys that they derive from the records, so the
// store needs a single Redis server (standalone, or a primary found
// through Sentinel); Redis Cluster is not supported.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
)

func init() {
	// go-redis would print its connection-pool complaints to standard
	// error, outside uapid's structured log; the store reports every
	// failure as an error instead.
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// what names the store in errors (store.Unavailable and the others).
const what = "redis session store"

// DefaultPrefix is the key prefix unless configured otherwise.
const DefaultPrefix = "uapid:"

// DefaultGrace is how long a session record stays in Redis after it
// expired, unless configured otherwise.
const DefaultGrace = time.Hour

// DefaultTimeout bounds each round trip to Redis unless configured
// otherwise (Options.Timeout): a request that needs the store fails with
// store.ErrUnavailable after at most this long, whatever the client's own
// timeouts are.
const DefaultTimeout = 5 * time.Second

// Options configure a Store.
type Options struct {
	// Prefix starts every key ("" means DefaultPrefix).
	Prefix string
	// Grace is how long after ExpiresAt a session record stays (0 means
	// DefaultGrace). It should be well above the sweep interval.
	Grace time.Duration
	// Box seals the secrets of session records that are not hashes.
	// Required.
	Box *secretbox.Box
	// Timeout bounds each round trip to Redis, on top of the caller's
	// context (0 means DefaultTimeout, a negative value no bound but the
	// caller's). It applies fully to a client whose ContextTimeoutEnabled
	// is set (as Open's is); other clients honour it only while they wait
	// for a connection.
	Timeout time.Duration
}

// Store is one Redis client with the two views of uapid's state on it.
type Store struct {
	rdb     redis.UniversalClient
	owned   bool // Close closes rdb
	prefix  string
	grace   int64 // ms
	timeout time.Duration
	box     *secretbox.Box

	sessions *Sessions
	attempts *Attempts
	tickets  *Tickets
}

// New returns a store on rdb. rdb stays the caller's: Close does not close
// it.
func New(rdb redis.UniversalClient, o Options) (*Store, error) {
	if o.Box == nil {
		return nil, errors.New(what + ": an encryption key is required for secrets at rest")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace < time.Second {
		return nil, errors.New(what + ": the expiry grace period must be at least 1s")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	s := &Store{rdb: rdb, prefix: o.Prefix, grace: o.Grace.Milliseconds(), timeout: o.Timeout, box: o.Box}
	s.sessions = &Sessions{s: s}
	s.attempts = newAttempts(s)
	s.tickets = &Tickets{s: s}
	return s, nil
}

// Open connects to the Redis named by rawURL (see ParseURL), checks that it
// answers, and returns a store that owns the connection (Close closes it).
// box seals the secrets; it is required. When the server cannot be
// reached the error satisfies errors.Is(err, store.ErrUnavailable).
func Open(ctx context.Context, rawURL string, box *secretbox.Box) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if box == nil {
		return nil, errors.New(what + ": an encryption key is required for secrets at rest")
	}
	rdb := cfg.NewClient()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		err = fmt.Errorf("cannot reach %s: %w", cfg.Where(), err)
		if unreachable(err) {
			return nil, store.Unavailable(what, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s, err := New(rdb, Options{Prefix: cfg.Prefix, Grace: cfg.Grace, Box: box})
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Sessions returns the session records' view of the store.
func (s *Store) Sessions() *Sessions { return s.sessions }

// Attempts returns the brute-force counters' view of the store.
func (s *Store) Attempts() *Attempts { return s.attempts }

// Ping reports whether Redis answers (an error that is
// store.ErrUnavailable when it cannot be reached).
func (s *Store) Ping(ctx context.Context) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail(ctx, "ping", s.rdb.Ping(bctx).Err())
}

// Close closes the connection if Open made it.
func (s *Store) Close() error {
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// bound returns ctx with the store's per-round-trip deadline, unless ctx
// ends earlier.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// fail turns an error of the client during op into the store's error:
// store.ErrUnavailable when the server cannot be reached, an error naming
// the store and op otherwise (nil stays nil). A call whose context (ctx,
// the caller's) was canceled failed because of that, whatever the client
// says: its error is context.Canceled, not ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %s: %w (%w)", what, op, cerr, err)
	}
	err = fmt.Errorf("%s: %w", op, err)
	if unreachable(err) {
		return store.Unavailable(what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
