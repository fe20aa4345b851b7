package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is a parsed session-store URL.
type Config struct {
	// Exactly one of Single and Failover is set.
	Single   *redis.Options
	Failover *redis.FailoverOptions
	// Prefix and Grace are the store's options from the URL ("" and 0:
	// the defaults).
	Prefix string
	Grace  time.Duration
}

// ParseURL reads a session-store URL. The forms are those of go-redis, plus
// two query parameters of uapid's own, accepted by every form:
//
//	prefix=P          key prefix (default "uapid:")
//	expiry_grace=D    how long expired records stay (default 1h; a Go
//	                  duration such as 30m)
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
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New("redis session store: invalid URL (details withheld: the URL may hold a password)")
	}
	var c Config
	q := u.Query()
	if v, ok := q["prefix"]; ok {
		c.Prefix = v[len(v)-1]
		if c.Prefix == "" {
			return Config{}, errors.New("redis session store: the prefix parameter must not be empty")
		}
		q.Del("prefix")
	}
	if v, ok := q["expiry_grace"]; ok {
		d, err := time.ParseDuration(v[len(v)-1])
		if err != nil || d < time.Second {
			return Config{}, fmt.Errorf("redis session store: expiry_grace=%q is not a duration of at least 1s (e.g. 1h)", v[len(v)-1])
		}
		c.Grace = d
		q.Del("expiry_grace")
	}
	u.RawQuery = q.Encode()
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return Config{}, fmt.Errorf("redis session store: %s", scrub(err, u))
		}
		c.Single = o
	case "redis+sentinel", "rediss+sentinel":
		u.Scheme = strings.TrimSuffix(u.Scheme, "+sentinel")
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return Config{}, fmt.Errorf("redis session store: %s", scrub(err, u))
		}
		if o.MasterName == "" {
			return Config{}, errors.New("redis session store: a Sentinel URL needs master_name=<name of the monitored primary>")
		}
		c.Failover = o
	default:
		return Config{}, fmt.Errorf("redis session store: unknown URL scheme %q (use redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://)", u.Scheme)
	}
	return c, nil
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
