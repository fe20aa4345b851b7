package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client defaults, for the URL parameters that are not given. go-redis's
// own defaults suit caches, not a store that every login waits for: a
// server that does not answer would hold a request for half a minute or
// more (five dial attempts of 5 s, then up to three retries of the
// command). uapid's aim is that a request fails with store.ErrUnavailable
// within a few seconds, while a healthy server, which answers in
// milliseconds even across a data centre, never comes near the limits.
const (
	// DefaultDialTimeout bounds one connection attempt (TCP and TLS
	// handshakes). go-redis's dial retries are turned off: one attempt
	// per command; a pool whose dials keep failing then fails at once
	// until a background dial succeeds.
	DefaultDialTimeout = 2 * time.Second
	// DefaultIOTimeout bounds the write of one command and the read of
	// its reply (read_timeout, write_timeout); the store's scripts run in
	// well under a millisecond.
	DefaultIOTimeout = 2 * time.Second
	// DefaultPoolTimeout bounds the wait for a free connection when every
	// connection of the pool is busy.
	DefaultPoolTimeout = 2 * time.Second
	// DefaultMaxRetries is -1: a command is never sent twice. The store's
	// scripts are compare-and-swaps that are not idempotent (a Consume or
	// a Delete whose reply was lost would report ErrConsumed or
	// ErrNotFound on a resend, and the caller would lose the record), so a
	// failure is reported (ErrUnavailable) and the client retries the
	// request. Idle connections that the server closed are found out by
	// go-redis's health check when they leave the pool, not by a failed
	// command.
	DefaultMaxRetries = -1
)

// Config is a parsed store URL.
type Config struct {
	// Exactly one of Single and Failover is set.
	Single   *redis.Options
	Failover *redis.FailoverOptions
	// Prefix and Grace are the store's options from the URL ("" and 0:
	// the defaults).
	Prefix string
	Grace  time.Duration
}

// ParseURL reads a store URL (the --session-store setting). The forms are
// those of go-redis, plus two query parameters of uapid's own, accepted by
// every form:
//
//	prefix=P          key prefix (default "uapid:")
//	expiry_grace=D    how long expired session records stay (default 1h;
//	                  a Go duration such as 30m)
//
// Single server:
//
//	redis://[user:password@]host:port/db
//	rediss://[user:password@]host:port/db      (TLS; skip_verify=true to
//	                                           skip certificate checks)
//	unix://[user:password@]/path/redis.sock?db=N
//
// Sentinel (the primary of master_name, found through the sentinels):
//
//	redis+sentinel://[sentinel-user:sentinel-password@]sentinel1:26379/db?master_name=mymaster&addr=sentinel2:26379&addr=sentinel3:26379&username=U&password=P
//	rediss+sentinel://…   (TLS to sentinels and servers)
//
// In the Sentinel form the user information of the URL authenticates to
// the sentinels, the username and password parameters to the Redis
// servers. Every other query parameter of go-redis (dial_timeout,
// pool_size, …) is accepted too; unknown ones are an error. Errors never
// show a password.
//
// Unless the URL says otherwise, the client times out as the Default*
// constants of this package say (dial_timeout 2s, read_timeout and
// write_timeout 2s, pool_timeout 2s, max_retries -1), dials once per
// attempt, and applies the deadline of the caller's context to every
// socket read and write (go-redis's ContextTimeoutEnabled; a context
// canceled while a reply is awaited is noticed when the read times out).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New(what + ": invalid URL (details withheld: the URL may hold a password)")
	}
	var c Config
	q := u.Query()
	if v, ok := q["prefix"]; ok {
		c.Prefix = v[len(v)-1]
		if c.Prefix == "" {
			return Config{}, errors.New(what + ": the prefix parameter must not be empty")
		}
		q.Del("prefix")
	}
	if v, ok := q["expiry_grace"]; ok {
		d, err := time.ParseDuration(v[len(v)-1])
		if err != nil || d < time.Second {
			return Config{}, fmt.Errorf("%s: expiry_grace=%q is not a duration of at least 1s (e.g. 1h)", what, v[len(v)-1])
		}
		c.Grace = d
		q.Del("expiry_grace")
	}
	u.RawQuery = q.Encode()
	// given reports whether the URL sets a go-redis parameter.
	given := func(name string) bool { return q.Has(name) }
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return Config{}, fmt.Errorf("%s: %s", what, scrub(err, u))
		}
		defaults(given, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries)
		o.DialerRetries = 1
		o.ContextTimeoutEnabled = true
		c.Single = o
	case "redis+sentinel", "rediss+sentinel":
		u.Scheme = strings.TrimSuffix(u.Scheme, "+sentinel")
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return Config{}, fmt.Errorf("%s: %s", what, scrub(err, u))
		}
		if o.MasterName == "" {
			return Config{}, errors.New(what + ": a Sentinel URL needs master_name=<name of the monitored primary>")
		}
		defaults(given, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries)
		o.DialerRetries = 1
		o.ContextTimeoutEnabled = true
		c.Failover = o
	default:
		return Config{}, fmt.Errorf("%s: unknown URL scheme %q (use redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://)", what, u.Scheme)
	}
	return c, nil
}

// defaults sets the client settings that the URL does not give.
func defaults(given func(string) bool, dial, read, write, pool *time.Duration, retries *int) {
	for _, d := range []struct {
		name string
		dst  *time.Duration
		val  time.Duration
	}{
		{"dial_timeout", dial, DefaultDialTimeout},
		{"read_timeout", read, DefaultIOTimeout},
		{"write_timeout", write, DefaultIOTimeout},
		{"pool_timeout", pool, DefaultPoolTimeout},
	} {
		if !given(d.name) {
			*d.dst = d.val
		}
	}
	if !given("max_retries") {
		*retries = DefaultMaxRetries
	}
}

// scrub returns err's text with any password of u replaced.
func scrub(err error, u *url.URL) string {
	msg := err.Error()
	secrets := []string{}
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p)
	}
	if p := u.Query().Get("password"); p != "" {
		secrets = append(secrets, p)
	}
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(s), "xxxxx")
	}
	return msg
}

// NewClient returns a client for the configuration.
func (c Config) NewClient() redis.UniversalClient {
	if c.Failover != nil {
		return redis.NewFailoverClient(c.Failover)
	}
	return redis.NewClient(c.Single)
}

// Where names the server (or sentinels and primary) for messages, without
// credentials.
func (c Config) Where() string {
	if c.Failover != nil {
		return fmt.Sprintf("the primary %q through the sentinels %s", c.Failover.MasterName, strings.Join(c.Failover.SentinelAddrs, ", "))
	}
	return c.Single.Addr
}
