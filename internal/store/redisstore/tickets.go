package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/store"
)

// Tickets is the store.Tickets view of a Store (Store.Tickets): the
// sign-on tickets, next to the sessions they are bound to.
//
// Layout, under the prefix P:
//
//	P signon:<hex hash>  string: "<expires ms>|<session id>"
//
// A ticket expires natively at the later of its ExpiresAt and the
// server's now, plus the grace period, so SweepTickets has nothing to do;
// until then TakeTicket tells an expired ticket from an unknown one. Taking
// is one script (GET and DEL), so exactly one caller gets a ticket.
type Tickets struct{ s *Store }

var _ store.Tickets = (*Tickets)(nil)

// Tickets returns the sign-on tickets' view of the store.
func (s *Store) Tickets() *Tickets { return s.tickets }

// ARGV: P, GRACE, hex hash, expires ms, value. Returns 1 when created, 0
// when the hash is present.
var scriptTicketCreate = redis.NewScript(`
local k = ARGV[1] .. 'signon:' .. ARGV[3]
if not redis.call('SET', k, ARGV[5], 'NX') then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('PEXPIREAT', k, string.format('%.0f', math.max(tonumber(ARGV[4]), now) + tonumber(ARGV[2])))
return 1
`)

// ARGV: P, hex hash. Returns the value, or nil; the key is gone after.
var scriptTicketTake = redis.NewScript(`
local k = ARGV[1] .. 'signon:' .. ARGV[2]
local v = redis.call('GET', k)
if v then redis.call('DEL', k) end
return v
`)

func (ts *Tickets) run(ctx context.Context, sc *redis.Script, args ...any) (any, error) {
	ctx, cancel := ts.s.bound(ctx)
	defer cancel()
	return sc.Run(ctx, ts.s.rdb, nil, args...).Result()
}

// CreateTicket implements store.Tickets.
func (ts *Tickets) CreateTicket(ctx context.Context, x store.Ticket) error {
	if err := store.ValidateTicket(&x); err != nil {
		return err
	}
	exp := x.ExpiresAt.UnixMilli()
	v, err := ts.run(ctx, scriptTicketCreate, ts.s.prefix, ts.s.grace, hex.EncodeToString(x.Hash), exp,
		strconv.FormatInt(exp, 10)+"|"+x.SessionID)
	if err != nil {
		return ts.s.fail(ctx, "create sign-on ticket", err)
	}
	if n, _ := v.(int64); n != 1 {
		return store.ErrExists
	}
	return nil
}

// TakeTicket implements store.Tickets.
func (ts *Tickets) TakeTicket(ctx context.Context, hash []byte, now time.Time) (store.Ticket, error) {
	if len(hash) != store.TicketHashLen {
		return store.Ticket{}, store.ErrNotFound
	}
	v, err := ts.run(ctx, scriptTicketTake, ts.s.prefix, hex.EncodeToString(hash))
	if errors.Is(err, redis.Nil) {
		return store.Ticket{}, store.ErrNotFound
	}
	if err != nil {
		return store.Ticket{}, ts.s.fail(ctx, "take sign-on ticket", err)
	}
	s, _ := v.(string)
	ms, id, ok := strings.Cut(s, "|")
	exp, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil || id == "" {
		return store.Ticket{}, errors.New(what + ": take sign-on ticket: malformed value")
	}
	x := store.Ticket{Hash: hash, SessionID: id, ExpiresAt: time.UnixMilli(exp).UTC()}
	if !now.Before(x.ExpiresAt) {
		return store.Ticket{}, store.ErrExpired
	}
	return x, nil
}

// SweepTickets implements store.Tickets: Redis expires tickets by itself.
func (ts *Tickets) SweepTickets(context.Context, time.Time) (int, error) { return 0, nil }
