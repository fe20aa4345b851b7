// Package redisstore is a session.Store in Redis, for several uapid nodes
// that share their sessions (the directory stays in SQLite or PostgreSQL).
//
// Guarantees beyond those of session.Store:
//   - Every operation that checks and changes (Create, Consume, Touch,
//     MarkTempCreated, Delete, DeleteByAccount, Sweep) is one Lua script,
//     which Redis runs atomically: consume-once holds across any number of
//     nodes, and a record is removed, and returned, by exactly one caller.
//   - Expiry is native: a record and its index keys carry a Redis expiry
//     (PEXPIREAT) of ExpiresAt plus a grace period (default one hour), moved
//     by Consume and Touch (the idle timeout). Until then an expired record
//     stays visible, so that lookups can tell "expired" from "unknown", and
//     Sweep returns it for the caller to release its temporary database
//     user. If no node sweeps within the grace period, Redis drops the
//     record by itself; the temporary-user sweeper then finds the session
//     gone and drops the user.
//   - Keys are namespaced by a prefix (default "uapid:"), so several
//     installations can share one Redis database.
//   - ReturnURL and TempPass are sealed with a secretbox.Box (bound to the
//     record id and field); the login and cookie hashes are stored as they
//     are.
//
// The scripts name keys that they derive from the records, so the store
// needs a single Redis server (standalone, or a primary found through
// Sentinel); Redis Cluster is not supported.
package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
)

func init() {
	// go-redis would print its connection-pool complaints to standard
	// error, outside uapid's structured log; the store reports every
	// failure as an error instead.
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// DefaultPrefix is the key prefix unless configured otherwise.
const DefaultPrefix = "uapid:"

// DefaultGrace is how long a record stays in Redis after it expired,
// unless configured otherwise.
const DefaultGrace = time.Hour

// Options configure a Store.
type Options struct {
	// Prefix starts every key ("" means DefaultPrefix).
	Prefix string
	// Grace is how long after ExpiresAt a record stays (0 means
	// DefaultGrace). It should be well above the sweep interval.
	Grace time.Duration
	// Box seals the secrets that are not hashes. Required.
	Box *secretbox.Box
}

// Store is the Redis session store.
type Store struct {
	rdb    redis.UniversalClient
	owned  bool // Close closes rdb
	prefix string
	grace  int64 // ms
	box    *secretbox.Box
}

var _ session.Store = (*Store)(nil)

// New returns a store on rdb. rdb stays the caller's: Close does not close
// it.
func New(rdb redis.UniversalClient, o Options) (*Store, error) {
	if o.Box == nil {
		return nil, errors.New("redis session store: an encryption key is required for secrets at rest")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace < time.Second {
		return nil, errors.New("redis session store: the expiry grace period must be at least 1s")
	}
	return &Store{rdb: rdb, prefix: o.Prefix, grace: o.Grace.Milliseconds(), box: o.Box}, nil
}

// Open connects to the Redis named by rawURL (see ParseURL), checks that it
// answers, and returns a store that owns the connection (Close closes it).
// box seals the secrets; it is required.
func Open(ctx context.Context, rawURL string, box *secretbox.Box) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	rdb := cfg.NewClient()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis session store: cannot reach %s: %w", cfg.Where(), err)
	}
	s, err := New(rdb, Options{Prefix: cfg.Prefix, Grace: cfg.Grace, Box: box})
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Close implements session.Store: it closes the connection if Open made
// it.
func (s *Store) Close() error {
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// run runs a script with the common arguments (prefix, grace) first.
func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) *redis.Cmd {
	return sc.Run(ctx, s.rdb, nil, append([]any{s.prefix, s.grace}, args...)...)
}

func hexHash(h []byte) string {
	if len(h) == 0 {
		return ""
	}
	return hex.EncodeToString(h)
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Contexts under which the sealed fields are bound to their record.
func ctxReturnURL(id string) string { return "uapid/session/" + id + "/return_url" }
func ctxTempPass(id string) string  { return "uapid/session/" + id + "/temp_pass" }

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, r session.Record) error {
	if err := validRecord(&r); err != nil {
		return err
	}
	lh, ch := hexHash(r.LoginHash), hexHash(r.CookieHash)
	ea := r.ExpiresAt.UnixMilli()
	res, err := s.run(ctx, scriptCreate, r.ID, r.Token, lh, ch, r.Account, ea,
		"id", r.ID, "u", r.User, "a", r.Account, "sv", r.Service, "tk", r.Token,
		"lh", lh, "c", b2s(r.Consumed), "ch", ch, "cr", r.Creator, "m", r.Method,
		"o", r.Origin, "lo", r.Locale, "ru", s.box.SealString(r.ReturnURL, ctxReturnURL(r.ID)),
		"tu", r.TempUser, "tp", s.box.SealString(r.TempPass, ctxTempPass(r.ID)),
		"tc", b2s(r.TempCreated), "ca", r.CreatedAt.UnixMilli(), "lu", r.LastUsed.UnixMilli(), "ea", ea,
	).Int64()
	if err != nil {
		return fmt.Errorf("redis session store: create: %w", err)
	}
	if res != 1 {
		return session.ErrExists
	}
	return nil
}

// record decodes the flat field list a script returned.
func (s *Store) record(v any) (session.Record, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return session.Record{}, fmt.Errorf("redis session store: unexpected reply %T", v)
	}
	f := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		f[k] = val
	}
	return s.decode(f)
}

func (s *Store) decode(f map[string]string) (session.Record, error) {
	r := session.Record{
		ID: f["id"], User: f["u"], Account: f["a"], Service: f["sv"], Token: f["tk"],
		Consumed: f["c"] == "1", Creator: f["cr"], Method: f["m"], Origin: f["o"],
		Locale: f["lo"], TempUser: f["tu"], TempCreated: f["tc"] == "1",
	}
	var err error
	if r.LoginHash, err = unhex(f["lh"]); err != nil {
		return session.Record{}, fmt.Errorf("redis session store: record %s: login hash: %w", r.ID, err)
	}
	if r.CookieHash, err = unhex(f["ch"]); err != nil {
		return session.Record{}, fmt.Errorf("redis session store: record %s: cookie hash: %w", r.ID, err)
	}
	for _, t := range []struct {
		dst *time.Time
		key string
	}{{&r.CreatedAt, "ca"}, {&r.LastUsed, "lu"}, {&r.ExpiresAt, "ea"}} {
		ms, err := strconv.ParseInt(f[t.key], 10, 64)
		if err != nil {
			return session.Record{}, fmt.Errorf("redis session store: record %s: field %s: %w", r.ID, t.key, err)
		}
		*t.dst = time.UnixMilli(ms).UTC()
	}
	if r.ReturnURL, err = s.box.OpenString([]byte(f["ru"]), ctxReturnURL(r.ID)); err != nil {
		return session.Record{}, fmt.Errorf("redis session store: record %s: return URL: %w", r.ID, err)
	}
	if r.TempPass, err = s.box.OpenString([]byte(f["tp"]), ctxTempPass(r.ID)); err != nil {
		return session.Record{}, fmt.Errorf("redis session store: record %s: temporary password: %w", r.ID, err)
	}
	return r, nil
}

func unhex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(s)
}

// get runs the lookup script.
func (s *Store) get(ctx context.Context, kind, key, what string) (session.Record, error) {
	v, err := s.run(ctx, scriptGet, kind, key).Result()
	if errors.Is(err, redis.Nil) {
		return session.Record{}, session.ErrNotFound
	}
	if err != nil {
		return session.Record{}, fmt.Errorf("redis session store: %s: %w", what, err)
	}
	r, err := s.record(v)
	if err != nil {
		return session.Record{}, err
	}
	// The index keys move with their record inside the scripts; this is a
	// last guard against an index naming another record.
	if (kind == "l" && hexHash(r.LoginHash) != key) || (kind == "c" && hexHash(r.CookieHash) != key) {
		return session.Record{}, session.ErrNotFound
	}
	return r, nil
}

// Get implements session.Store.
func (s *Store) Get(ctx context.Context, id string) (session.Record, error) {
	return s.get(ctx, "s", id, "get")
}

// ByLoginHash implements session.Store.
func (s *Store) ByLoginHash(ctx context.Context, h []byte) (session.Record, error) {
	if len(h) != hashLen {
		return session.Record{}, session.ErrNotFound
	}
	return s.get(ctx, "l", hex.EncodeToString(h), "by login hash")
}

// ByCookieHash implements session.Store.
func (s *Store) ByCookieHash(ctx context.Context, h []byte) (session.Record, error) {
	if len(h) != hashLen {
		return session.Record{}, session.ErrNotFound
	}
	return s.get(ctx, "c", hex.EncodeToString(h), "by cookie hash")
}

// Consume implements session.Store with one script: the check (exists,
// not consumed, not expired, cookie hash free) and the change happen
// atomically on the server, so exactly one caller wins on any node.
func (s *Store) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (session.Record, error) {
	if !validHash(cookieHash) {
		return session.Record{}, session.ErrInvalid
	}
	v, err := s.run(ctx, scriptConsume, id, hexHash(cookieHash), now.UnixMilli(), expires.UnixMilli()).Slice()
	if err != nil {
		return session.Record{}, fmt.Errorf("redis session store: consume: %w", err)
	}
	status, _ := v[0].(string)
	switch status {
	case "ok":
		if len(v) != 2 {
			return session.Record{}, errors.New("redis session store: consume: unexpected reply")
		}
		return s.record(v[1])
	case "notfound":
		return session.Record{}, session.ErrNotFound
	case "consumed":
		return session.Record{}, session.ErrConsumed
	case "expired":
		return session.Record{}, session.ErrExpired
	case "exists":
		return session.Record{}, session.ErrExists
	}
	return session.Record{}, fmt.Errorf("redis session store: consume: unexpected reply %q", status)
}

// Touch implements session.Store; it also moves the native expiry.
func (s *Store) Touch(ctx context.Context, id string, now, expires time.Time) error {
	res, err := s.run(ctx, scriptTouch, id, now.UnixMilli(), expires.UnixMilli()).Text()
	if err != nil {
		return fmt.Errorf("redis session store: touch: %w", err)
	}
	switch res {
	case "ok":
		return nil
	case "notfound":
		return session.ErrNotFound
	case "expired":
		return session.ErrExpired
	}
	return fmt.Errorf("redis session store: touch: unexpected reply %q", res)
}

// MarkTempCreated implements session.Store.
func (s *Store) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	res, err := s.run(ctx, scriptMarkTemp, id).Text()
	if err != nil {
		return false, fmt.Errorf("redis session store: mark temp created: %w", err)
	}
	switch res {
	case "changed":
		return true, nil
	case "unchanged":
		return false, nil
	case "notfound":
		return false, session.ErrNotFound
	}
	return false, fmt.Errorf("redis session store: mark temp created: unexpected reply %q", res)
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, id string) (session.Record, error) {
	v, err := s.run(ctx, scriptDelete, id).Result()
	if errors.Is(err, redis.Nil) {
		return session.Record{}, session.ErrNotFound
	}
	if err != nil {
		return session.Record{}, fmt.Errorf("redis session store: delete: %w", err)
	}
	return s.record(v)
}

func (s *Store) records(list []any) ([]session.Record, error) {
	var out []session.Record
	for _, v := range list {
		r, err := s.record(v)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// DeleteByAccount implements session.Store.
func (s *Store) DeleteByAccount(ctx context.Context, account, user string) ([]session.Record, error) {
	v, err := s.run(ctx, scriptDeleteByAccount, account, user).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis session store: delete by account: %w", err)
	}
	out, err := s.records(v)
	if err != nil {
		// The records are gone already: return what could be read, so
		// that the caller can release what hangs off them.
		return out, err
	}
	sortRecords(out)
	return out, nil
}

// listBatch is how many records List reads per round trip.
const listBatch = 500

// List implements session.Store. It reads the ids (the account's set, or
// every id of the expiry index) and then the records in pipelined
// batches; it serves administration, not requests.
func (s *Store) List(ctx context.Context, account string) ([]session.Record, error) {
	var ids []string
	var err error
	if account == "" {
		ids, err = s.rdb.ZRange(ctx, s.prefix+"exp", 0, -1).Result()
	} else {
		ids, err = s.rdb.SMembers(ctx, s.prefix+"a:"+account).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("redis session store: list: %w", err)
	}
	var out []session.Record
	for chunk := range slices.Chunk(ids, listBatch) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HGetAll(ctx, s.prefix+"s:"+id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redis session store: list: %w", err)
		}
		for _, c := range cmds {
			f := c.Val()
			if len(f) == 0 {
				continue // removed meanwhile, or expired natively
			}
			r, err := s.decode(f)
			if err != nil {
				return nil, err
			}
			if account == "" || r.Account == account {
				out = append(out, r)
			}
		}
	}
	sortRecords(out)
	return out, nil
}

// sortRecords orders records oldest first (CreatedAt, then ID).
func sortRecords(rs []session.Record) {
	slices.SortFunc(rs, func(a, b session.Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// sweepBatch bounds the records one Sweep script removes, so that a
// script never blocks Redis for long.
const sweepBatch = 500

// Sweep implements session.Store: each batch is one script that takes the
// earliest-expiring ids from the expiry index and removes their records,
// so sweepers on several nodes share the work and never return a record
// twice.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) ([]session.Record, error) {
	var out []session.Record
	for limit <= 0 || len(out) < limit {
		n := sweepBatch
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		v, err := s.run(ctx, scriptSweep, now.UnixMilli(), n).Slice()
		if err != nil {
			return out, fmt.Errorf("redis session store: sweep: %w", err)
		}
		looked, _ := v[0].(int64)
		list, _ := v[1].([]any)
		rs, err := s.records(list)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
		if looked < int64(n) {
			break
		}
	}
	return out, nil
}

// ---- the record rules of package session ----

// hashLen is the length of session.HashSecret's output.
const hashLen = 32

func validHash(h []byte) bool { return len(h) == 0 || len(h) == hashLen }

// validRecord checks what session.Store requires of a record given to
// Create (the rules of package session's stores).
func validRecord(r *session.Record) error {
	if r.ID == "" || r.Token == "" || !validHash(r.LoginHash) || !validHash(r.CookieHash) {
		return session.ErrInvalid
	}
	for _, f := range [...]string{r.ID, r.User, r.Account, r.Service, r.Token, r.Creator,
		r.Method, r.Origin, r.Locale, r.ReturnURL, r.TempUser, r.TempPass} {
		if len(f) > session.MaxFieldLen {
			return session.ErrInvalid
		}
	}
	return nil
}
