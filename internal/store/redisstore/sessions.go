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
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/store"
)

// Sessions is the store.Sessions view of a Store (Store.Sessions).
type Sessions struct{ s *Store }

var _ store.Sessions = (*Sessions)(nil)

// run runs a session script with the common arguments (prefix, grace)
// first, within the store's per-round-trip bound.
func (ss *Sessions) run(ctx context.Context, sc *redis.Script, args ...any) (any, error) {
	s := ss.s
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return sc.Run(ctx, s.rdb, nil, append([]any{s.prefix, s.grace}, args...)...).Result()
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

// Contexts under which the sealed fields are bound to their record (those
// of the previous release: do not change them, or the records it wrote
// no longer open).
func ctxReturnURL(id string) string { return "uapid/session/" + id + "/return_url" }
func ctxTempPass(id string) string  { return "uapid/session/" + id + "/temp_pass" }

// quote returns s quoted for a message: at most 100 bytes, control
// characters and invalid UTF-8 escaped.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return "“" + s + "”"
	}
	return strconv.Quote(s)
}

// Create implements store.Sessions.
func (ss *Sessions) Create(ctx context.Context, r store.Session) error {
	if err := store.ValidateSession(&r); err != nil {
		return err
	}
	box := ss.s.box
	lh, ch := hexHash(r.LoginHash), hexHash(r.CookieHash)
	ea := r.ExpiresAt.UnixMilli()
	v, err := ss.run(ctx, scriptCreate, r.ID, r.Token, lh, ch, r.Account, ea,
		"id", r.ID, "u", r.User, "a", r.Account, "sv", r.Service, "tk", r.Token,
		"lh", lh, "c", b2s(r.Consumed), "ch", ch, "cr", r.Creator, "m", r.Method,
		"o", r.Origin, "lo", r.Locale, "ru", box.SealString(r.ReturnURL, ctxReturnURL(r.ID)),
		"tu", r.TempUser, "tp", box.SealString(r.TempPass, ctxTempPass(r.ID)),
		"tc", b2s(r.TempCreated), "ca", r.CreatedAt.UnixMilli(), "lu", r.LastUsed.UnixMilli(), "ea", ea,
	)
	if err != nil {
		return ss.s.fail(ctx, "create", err)
	}
	switch v {
	case "ok":
		return nil
	case "id":
		return store.Errorf(store.ErrExists, "session %s exists already", quote(r.ID))
	case "token":
		return store.Errorf(store.ErrExists, "the security token of session %s belongs to another session", quote(r.ID))
	case "login":
		return store.Errorf(store.ErrExists, "the login secret of session %s belongs to another session", quote(r.ID))
	case "cookie":
		return store.Errorf(store.ErrExists, "the cookie of session %s belongs to another session", quote(r.ID))
	}
	return fmt.Errorf("%s: create: unexpected reply %v", what, v)
}

// record decodes the flat field list a script returned.
func (ss *Sessions) record(v any) (store.Session, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return store.Session{}, fmt.Errorf("%s: unexpected reply %T", what, v)
	}
	f := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		f[k] = val
	}
	return ss.decode(f)
}

// decode turns the fields of a record's hash into the record.
func (ss *Sessions) decode(f map[string]string) (store.Session, error) {
	r := store.Session{
		ID: f["id"], User: f["u"], Account: f["a"], Service: f["sv"], Token: f["tk"],
		Consumed: f["c"] == "1", Creator: f["cr"], Method: f["m"], Origin: f["o"],
		Locale: f["lo"], TempUser: f["tu"], TempCreated: f["tc"] == "1",
	}
	var err error
	if r.LoginHash, err = unhex(f["lh"]); err != nil {
		return store.Session{}, fmt.Errorf("%s: record %s: login hash: %w", what, r.ID, err)
	}
	if r.CookieHash, err = unhex(f["ch"]); err != nil {
		return store.Session{}, fmt.Errorf("%s: record %s: cookie hash: %w", what, r.ID, err)
	}
	for _, t := range []struct {
		dst *time.Time
		key string
	}{{&r.CreatedAt, "ca"}, {&r.LastUsed, "lu"}, {&r.ExpiresAt, "ea"}} {
		ms, err := strconv.ParseInt(f[t.key], 10, 64)
		if err != nil {
			return store.Session{}, fmt.Errorf("%s: record %s: field %s: %w", what, r.ID, t.key, err)
		}
		*t.dst = time.UnixMilli(ms).UTC()
	}
	box := ss.s.box
	if r.ReturnURL, err = box.OpenString([]byte(f["ru"]), ctxReturnURL(r.ID)); err != nil {
		return store.Session{}, fmt.Errorf("%s: record %s: return URL: %w", what, r.ID, err)
	}
	if r.TempPass, err = box.OpenString([]byte(f["tp"]), ctxTempPass(r.ID)); err != nil {
		return store.Session{}, fmt.Errorf("%s: record %s: temporary password: %w", what, r.ID, err)
	}
	return r, nil
}

func unhex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(s)
}

// get runs the lookup script; notFound is the error for an absent record.
func (ss *Sessions) get(ctx context.Context, kind, key, op string, notFound func() error) (store.Session, error) {
	v, err := ss.run(ctx, scriptGet, kind, key)
	if errors.Is(err, redis.Nil) {
		return store.Session{}, notFound()
	}
	if err != nil {
		return store.Session{}, ss.s.fail(ctx, op, err)
	}
	r, err := ss.record(v)
	if err != nil {
		return store.Session{}, err
	}
	// The index keys move with their record inside the scripts; this is a
	// last guard against an index naming another record.
	if (kind == "l" && hexHash(r.LoginHash) != key) || (kind == "c" && hexHash(r.CookieHash) != key) {
		return store.Session{}, notFound()
	}
	return r, nil
}

func notFound(id string) error {
	return store.Errorf(store.ErrNotFound, "session %s not found", quote(id))
}

func noLogin() error {
	return store.Errorf(store.ErrNotFound, "no session has this login secret")
}

func noCookie() error {
	return store.Errorf(store.ErrNotFound, "no session has this cookie")
}

// Get implements store.Sessions.
func (ss *Sessions) Get(ctx context.Context, id string) (store.Session, error) {
	return ss.get(ctx, "s", id, "get", func() error { return notFound(id) })
}

// ByLoginHash implements store.Sessions.
func (ss *Sessions) ByLoginHash(ctx context.Context, h []byte) (store.Session, error) {
	if len(h) != store.SessionHashLen {
		return store.Session{}, noLogin()
	}
	return ss.get(ctx, "l", hex.EncodeToString(h), "by login hash", noLogin)
}

// ByCookieHash implements store.Sessions.
func (ss *Sessions) ByCookieHash(ctx context.Context, h []byte) (store.Session, error) {
	if len(h) != store.SessionHashLen {
		return store.Session{}, noCookie()
	}
	return ss.get(ctx, "c", hex.EncodeToString(h), "by cookie hash", noCookie)
}

// Consume implements store.Sessions with one script: the check (exists,
// not consumed, not expired, cookie hash free) and the change happen
// atomically on the server, so exactly one caller wins on any node.
func (ss *Sessions) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (store.Session, error) {
	if !store.ValidSessionHash(cookieHash) {
		return store.Session{}, store.Errorf(store.ErrInvalid, "a cookie hash has %d bytes", store.SessionHashLen)
	}
	res, err := ss.run(ctx, scriptConsume, id, hexHash(cookieHash), now.UnixMilli(), expires.UnixMilli())
	if err != nil {
		return store.Session{}, ss.s.fail(ctx, "consume", err)
	}
	v, _ := res.([]any)
	if len(v) == 0 {
		return store.Session{}, fmt.Errorf("%s: consume: unexpected reply %v", what, res)
	}
	status, _ := v[0].(string)
	switch status {
	case "ok":
		if len(v) != 2 {
			return store.Session{}, fmt.Errorf("%s: consume: unexpected reply", what)
		}
		return ss.record(v[1])
	case "notfound":
		return store.Session{}, notFound(id)
	case "consumed":
		return store.Session{}, store.Errorf(store.ErrConsumed, "the login of session %s was already used", quote(id))
	case "expired":
		return store.Session{}, store.Errorf(store.ErrExpired, "session %s has expired", quote(id))
	case "exists":
		return store.Session{}, store.Errorf(store.ErrExists, "the cookie given to session %s belongs to another session", quote(id))
	}
	return store.Session{}, fmt.Errorf("%s: consume: unexpected reply %q", what, status)
}

// Touch implements store.Sessions; it also moves the native expiry.
func (ss *Sessions) Touch(ctx context.Context, id string, now, expires time.Time) error {
	res, err := ss.run(ctx, scriptTouch, id, now.UnixMilli(), expires.UnixMilli())
	if err != nil {
		return ss.s.fail(ctx, "touch", err)
	}
	switch res {
	case "ok":
		return nil
	case "notfound":
		return notFound(id)
	case "expired":
		return store.Errorf(store.ErrExpired, "session %s has expired", quote(id))
	}
	return fmt.Errorf("%s: touch: unexpected reply %v", what, res)
}

// MarkTempCreated implements store.Sessions.
func (ss *Sessions) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	res, err := ss.run(ctx, scriptMarkTemp, id)
	if err != nil {
		return false, ss.s.fail(ctx, "mark temp created", err)
	}
	switch res {
	case "changed":
		return true, nil
	case "unchanged":
		return false, nil
	case "notfound":
		return false, notFound(id)
	}
	return false, fmt.Errorf("%s: mark temp created: unexpected reply %v", what, res)
}

// Delete implements store.Sessions.
func (ss *Sessions) Delete(ctx context.Context, id string) (store.Session, error) {
	v, err := ss.run(ctx, scriptDelete, id)
	if errors.Is(err, redis.Nil) {
		return store.Session{}, notFound(id)
	}
	if err != nil {
		return store.Session{}, ss.s.fail(ctx, "delete", err)
	}
	return ss.record(v)
}

// records decodes a list of records; on an error it returns those decoded
// before it.
func (ss *Sessions) records(list []any) ([]store.Session, error) {
	var out []store.Session
	for _, v := range list {
		r, err := ss.record(v)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// DeleteByAccount implements store.Sessions with one script.
func (ss *Sessions) DeleteByAccount(ctx context.Context, account, user string) ([]store.Session, error) {
	res, err := ss.run(ctx, scriptDeleteByAccount, account, user)
	if err != nil {
		return nil, ss.s.fail(ctx, "delete by account", err)
	}
	v, _ := res.([]any)
	out, err := ss.records(v)
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

// List implements store.Sessions. It reads the ids (the account's set, or
// every id of the expiry index) and then the records in pipelined
// batches; it serves administration, not requests. Ids whose record
// vanished meanwhile (deleted, or expired natively) are skipped.
func (ss *Sessions) List(ctx context.Context, account string) ([]store.Session, error) {
	s := ss.s
	var ids []string
	var err error
	func() {
		ctx, cancel := s.bound(ctx)
		defer cancel()
		if account == "" {
			ids, err = s.rdb.ZRange(ctx, s.prefix+"exp", 0, -1).Result()
		} else {
			ids, err = s.rdb.SMembers(ctx, s.prefix+"a:"+account).Result()
		}
	}()
	if err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	var out []store.Session
	for chunk := range slices.Chunk(ids, listBatch) {
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		err := func() error {
			ctx, cancel := s.bound(ctx)
			defer cancel()
			pipe := s.rdb.Pipeline()
			for i, id := range chunk {
				cmds[i] = pipe.HGetAll(ctx, s.prefix+"s:"+id)
			}
			_, err := pipe.Exec(ctx)
			return err
		}()
		if err != nil {
			return nil, s.fail(ctx, "list", err)
		}
		for _, c := range cmds {
			f := c.Val()
			if len(f) == 0 {
				continue // removed meanwhile, or expired natively
			}
			r, err := ss.decode(f)
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
func sortRecords(rs []store.Session) {
	slices.SortFunc(rs, func(a, b store.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// sweepBatch bounds the records one Sweep script removes, so that a
// script never blocks Redis for long.
const sweepBatch = 500

// Sweep implements store.Sessions: each batch is one script that takes
// the earliest-expiring ids from the expiry index and removes their
// records, so sweepers on several nodes share the work and never return
// a record twice. On an error it returns the records removed before it.
func (ss *Sessions) Sweep(ctx context.Context, now time.Time, limit int) ([]store.Session, error) {
	var out []store.Session
	for limit <= 0 || len(out) < limit {
		n := sweepBatch
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		res, err := ss.run(ctx, scriptSweep, now.UnixMilli(), n)
		if err != nil {
			return out, ss.s.fail(ctx, "sweep", err)
		}
		v, _ := res.([]any)
		if len(v) != 2 {
			return out, fmt.Errorf("%s: sweep: unexpected reply %v", what, res)
		}
		looked, _ := v[0].(int64)
		list, _ := v[1].([]any)
		rs, err := ss.records(list)
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
