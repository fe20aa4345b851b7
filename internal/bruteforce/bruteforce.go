// Package bruteforce is uapid's brute-force protection (SPEC §6): failed
// password, token and login-session attempts are counted per client address
// and per user in sliding windows; past a limit the address (or user) is
// blocked for a ban time that doubles for repeat offenders, up to a cap.
// Allow-listed addresses are never blocked, and a per-user block does not
// apply to addresses that logged in successfully as that user recently, so
// an attacker cannot lock a legitimate user out from elsewhere.
//
// The state lives in memory, per process (per node); it is bounded in size.
package bruteforce

import (
	"net/netip"
	"sync"
	"time"
)

// Config are the limits.
type Config struct {
	// Allow lists addresses that are never blocked.
	Allow []netip.Prefix
	// IPMax and UserMax are the failures tolerated per Window from one
	// address, and against one user from all addresses.
	IPMax, UserMax int
	Window         time.Duration
	// Ban is the first block time; each further block of the same key
	// doubles it, up to MaxBan.
	Ban, MaxBan time.Duration
	// Trust is how long a successful login exempts that address from the
	// user's block (24h).
	Trust time.Duration
	// MaxKeys bounds the number of tracked addresses and users.
	MaxKeys int
}

// Defaults returns SPEC §6's defaults.
func Defaults() Config {
	return Config{IPMax: 30, UserMax: 60, Window: 5 * time.Minute, Ban: 10 * time.Minute,
		MaxBan: 24 * time.Hour, Trust: 24 * time.Hour, MaxKeys: 200_000}
}

// Block describes a block that just started (for logs, audit and metrics).
type Block struct {
	Kind  string // "ip" or "user"
	Key   string // the address or user name
	Until time.Time
}

// Limiter counts failures and decides blocks. The zero value is unusable;
// use New. A nil *Limiter blocks nothing and counts nothing.
type Limiter struct {
	cfg Config
	now func() time.Time
	// OnBlock, if set, is called (outside the lock) for each new block.
	OnBlock func(Block)

	mu      sync.Mutex
	ips     map[netip.Addr]*entry
	users   map[string]*entry
	trusted map[trustKey]time.Time
}

type trustKey struct {
	user string
	addr netip.Addr
}

// entry is one key's failures in the window (a ring of times, at most the
// limit plus one are kept), its block, and how many times it was blocked.
type entry struct {
	fails   []time.Time
	until   time.Time
	strikes int
	seen    time.Time
}

// New returns a limiter with cfg (zero fields take the defaults).
func New(cfg Config) *Limiter {
	d := Defaults()
	if cfg.IPMax <= 0 {
		cfg.IPMax = d.IPMax
	}
	if cfg.UserMax <= 0 {
		cfg.UserMax = d.UserMax
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.Ban <= 0 {
		cfg.Ban = d.Ban
	}
	if cfg.MaxBan < cfg.Ban {
		cfg.MaxBan = max(d.MaxBan, cfg.Ban)
	}
	if cfg.Trust <= 0 {
		cfg.Trust = d.Trust
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = d.MaxKeys
	}
	return &Limiter{cfg: cfg, now: time.Now, ips: map[netip.Addr]*entry{}, users: map[string]*entry{}, trusted: map[trustKey]time.Time{}}
}

// SetClock replaces the clock (tests).
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

func (l *Limiter) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.cfg.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Blocked reports whether an attempt from addr against user ("" when not
// known) must be refused without checking the credential.
func (l *Limiter) Blocked(addr netip.Addr, user string) bool {
	if l == nil {
		return false
	}
	addr = addr.Unmap()
	if addr.IsValid() && l.allowed(addr) {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.ips[addr]; addr.IsValid() && e != nil && now.Before(e.until) {
		return true
	}
	if user == "" {
		return false
	}
	if e := l.users[user]; e != nil && now.Before(e.until) {
		if t, ok := l.trusted[trustKey{user, addr}]; ok && now.Before(t) {
			return false
		}
		return true
	}
	return false
}

// Fail records a failed attempt and returns the blocks it started.
func (l *Limiter) Fail(addr netip.Addr, user string) []Block {
	if l == nil {
		return nil
	}
	addr = addr.Unmap()
	if addr.IsValid() && l.allowed(addr) {
		return nil
	}
	now := l.now()
	var blocks []Block
	l.mu.Lock()
	l.gc(now)
	if addr.IsValid() {
		e := l.ips[addr]
		if e == nil {
			e = &entry{}
			l.ips[addr] = e
		}
		if b, ok := l.count(e, now, l.cfg.IPMax); ok {
			blocks = append(blocks, Block{Kind: "ip", Key: addr.String(), Until: b})
		}
	}
	if user != "" {
		e := l.users[user]
		if e == nil {
			e = &entry{}
			l.users[user] = e
		}
		if b, ok := l.count(e, now, l.cfg.UserMax); ok {
			blocks = append(blocks, Block{Kind: "user", Key: user, Until: b})
		}
	}
	l.mu.Unlock()
	if l.OnBlock != nil {
		for _, b := range blocks {
			l.OnBlock(b)
		}
	}
	return blocks
}

// count adds a failure at now; if the failures within the window exceed
// limit, the key is blocked (if not already) and the end is returned.
func (l *Limiter) count(e *entry, now time.Time, limit int) (time.Time, bool) {
	e.seen = now
	cut := now.Add(-l.cfg.Window)
	kept := e.fails[:0]
	for _, t := range e.fails {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	e.fails = append(kept, now)
	if len(e.fails) > limit+1 {
		e.fails = e.fails[len(e.fails)-limit-1:]
	}
	if len(e.fails) <= limit || now.Before(e.until) {
		return time.Time{}, false
	}
	ban := l.cfg.Ban
	for i := 0; i < e.strikes && ban < l.cfg.MaxBan; i++ {
		ban *= 2
	}
	ban = min(ban, l.cfg.MaxBan)
	e.strikes++
	e.until = now.Add(ban)
	e.fails = e.fails[:0]
	return e.until, true
}

// Success records a successful login of user from addr: that address is
// exempt from the user's block for the trust period.
func (l *Limiter) Success(addr netip.Addr, user string) {
	if l == nil || user == "" || !addr.IsValid() {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.trusted) >= l.cfg.MaxKeys {
		l.gc(now)
	}
	if len(l.trusted) < l.cfg.MaxKeys {
		l.trusted[trustKey{user, addr.Unmap()}] = now.Add(l.cfg.Trust)
	}
}

// gc drops state that no longer matters once the maps grow large. Repeat
// offenders keep their strike count while blocked or recently seen.
func (l *Limiter) gc(now time.Time) {
	if len(l.ips)+len(l.users) < l.cfg.MaxKeys && len(l.trusted) < l.cfg.MaxKeys {
		return
	}
	stale := func(e *entry) bool {
		return !now.Before(e.until) && now.Sub(e.seen) > l.cfg.Window
	}
	for k, e := range l.ips {
		if stale(e) {
			delete(l.ips, k)
		}
	}
	for k, e := range l.users {
		if stale(e) {
			delete(l.users, k)
		}
	}
	for k, t := range l.trusted {
		if !now.Before(t) {
			delete(l.trusted, k)
		}
	}
	// Still full (an attack from very many addresses): forget the oldest
	// unblocked half rather than grow without bound.
	if len(l.ips) >= l.cfg.MaxKeys/2 {
		for k, e := range l.ips {
			if !now.Before(e.until) {
				delete(l.ips, k)
			}
			if len(l.ips) < l.cfg.MaxKeys/4 {
				break
			}
		}
	}
}
