package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/secretbox"
)

// benchStores are the shared stores a run measures instead of the
// embedded SQLite one: --store postgres://… (a database; the run works in
// a schema of its own, dropped at the end) and --session-store redis://…
// (the run uses a key prefix of its own, deleted at the end), as `uapid
// serve` takes them, with a generated encryption key.
type benchStores struct {
	store, sessionStore string
	key                 string // UAPID_SECRET_KEY
	cleanups            []func()
}

// prepareStores makes the private schema and prefix of o's stores.
func prepareStores(ctx context.Context, o Options, logf func(string, ...any)) (*benchStores, error) {
	bs := &benchStores{}
	if o.Store == "" && o.SessionStore == "" {
		return bs, nil
	}
	bs.key = base64.StdEncoding.EncodeToString(secretbox.NewKey())
	tag := "uapid_bench_" + randHex(6)
	if o.Store != "" {
		dsn, drop, err := pgSchema(ctx, o.Store, tag)
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		bs.store = dsn
		bs.cleanups = append(bs.cleanups, drop)
		logf("store: PostgreSQL, schema %s", tag)
	}
	if o.SessionStore != "" {
		u, drop, err := redisPrefix(o.SessionStore, tag+":")
		if err != nil {
			return nil, fmt.Errorf("--session-store: %w", err)
		}
		bs.sessionStore = u
		bs.cleanups = append(bs.cleanups, drop)
		logf("session store: Redis, key prefix %s:", tag)
	}
	return bs, nil
}

// close drops the private schema and prefix.
func (bs *benchStores) close() {
	for i := len(bs.cleanups) - 1; i >= 0; i-- {
		bs.cleanups[i]()
	}
	bs.cleanups = nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSchema creates schema name in the database of dsn and returns a DSN
// that works in it, and a function that drops it.
func pgSchema(ctx context.Context, dsn, name string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("a postgres:// URL is needed")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("cannot reach PostgreSQL: %s", strings.Join(strings.Fields(err.Error()), " "))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			c.Exec(ctx, `DROP SCHEMA IF EXISTS `+name+` CASCADE`)
			c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

// redisPrefix returns the Redis URL with the key prefix set, and a
// function that deletes every key under it.
func redisPrefix(raw, prefix string) (string, func(), error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return "", nil, fmt.Errorf("a redis:// or rediss:// URL is needed")
	}
	q := u.Query()
	q.Set("prefix", prefix)
	u.RawQuery = q.Encode()
	q.Del("prefix")
	base := *u
	base.RawQuery = q.Encode()
	opts, err := redis.ParseURL(base.String())
	if err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := redis.NewClient(opts)
		defer c.Close()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
	}
	return u.String(), drop, nil
}

// storeName says what a run measures: "sqlite", "postgres",
// "postgres+redis" or "sqlite+redis" (directory+sessions).
func storeName(o Options) string {
	name := "sqlite"
	if o.Store != "" {
		name = "postgres"
	}
	if o.SessionStore != "" {
		name += "+redis"
	}
	return name
}
