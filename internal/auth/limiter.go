package auth

import (
	"context"
	"net/netip"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// LimitConfig is the brute-force policy (SPEC §6): failures are counted
// per client address and per user in sliding windows; past a limit the
// address (or user) is blocked for a ban time that doubles for repeat
// offenders, up to a cap. Allow-listed addresses are never blocked, and a
// per-user block does not apply to addresses that logged in successfully
// as that user recently, so an attacker cannot lock a legitimate user out
// from elsewhere.
type LimitConfig struct {
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
	// user's block.
	Trust time.Duration
	// Memory is how long a key's strikes are remembered after its last
	// block ended (its next block starts again at Ban afterwards).
	Memory time.Duration
}

// DefaultLimits returns SPEC §6's defaults.
func DefaultLimits() LimitConfig {
	return LimitConfig{IPMax: 30, UserMax: 60, Window: 5 * time.Minute, Ban: 10 * time.Minute,
		MaxBan: 24 * time.Hour, Trust: 24 * time.Hour, Memory: 24 * time.Hour}
}

// Block describes a block that just started (for logs, audit and metrics).
type Block struct {
	Kind  string // store.AttemptIP or store.AttemptUser
	Key   string // the address or user name
	Until time.Time
}

// Limiter applies the policy over a store.Attempts. With a shared store
// the counts of every node add up, so the limits hold for the cluster. A
// nil *Limiter blocks nothing and counts nothing.
type Limiter struct {
	cfg      LimitConfig
	attempts store.Attempts
	now      func() time.Time
	// OnBlock, if set, is called for each new block.
	OnBlock func(Block)
}

// NewLimiter returns a limiter with cfg (zero fields take the defaults)
// counting in attempts.
func NewLimiter(cfg LimitConfig, attempts store.Attempts) *Limiter {
	d := DefaultLimits()
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
	if cfg.Memory <= 0 {
		cfg.Memory = d.Memory
	}
	return &Limiter{cfg: cfg, attempts: attempts, now: time.Now}
}

// SetClock replaces the clock (tests).
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

// Config returns the policy in force.
func (l *Limiter) Config() LimitConfig { return l.cfg }

func (l *Limiter) allowed(a netip.Addr) bool {
	for _, p := range l.cfg.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// keys are what an attempt from addr against user counts against.
func (l *Limiter) keys(addr netip.Addr, user string) []store.AttemptKey {
	var ks []store.AttemptKey
	if addr.IsValid() {
		ks = append(ks, store.AttemptKey{Kind: store.AttemptIP, Value: addr.String()})
	}
	if user != "" {
		ks = append(ks, store.AttemptKey{Kind: store.AttemptUser, Value: user})
	}
	return ks
}

// Blocked reports whether an attempt from addr against user ("" when not
// known) must be refused without checking the credential.
func (l *Limiter) Blocked(ctx context.Context, addr netip.Addr, user string) (bool, error) {
	if l == nil {
		return false, nil
	}
	addr = addr.Unmap()
	if addr.IsValid() && l.allowed(addr) {
		return false, nil
	}
	keys := l.keys(addr, user)
	if len(keys) == 0 {
		return false, nil
	}
	now := l.now()
	until, err := l.attempts.BlockedUntil(ctx, keys, now)
	if err != nil {
		return false, err
	}
	for i, k := range keys {
		if until[i].IsZero() {
			continue
		}
		if k.Kind == store.AttemptIP {
			return true, nil
		}
		trusted, err := l.attempts.Trusted(ctx, user, addr.String(), now)
		if err != nil {
			return false, err
		}
		return !trusted, nil
	}
	return false, nil
}

// Fail records a failed attempt from addr against user ("" when not
// known) and returns the blocks it started. Of several nodes that see a
// limit crossed at once, one starts the block.
func (l *Limiter) Fail(ctx context.Context, addr netip.Addr, user string) ([]Block, error) {
	if l == nil {
		return nil, nil
	}
	addr = addr.Unmap()
	if addr.IsValid() && l.allowed(addr) {
		return nil, nil
	}
	now := l.now()
	var blocks []Block
	for _, k := range l.keys(addr, user) {
		limit := l.cfg.IPMax
		if k.Kind == store.AttemptUser {
			limit = l.cfg.UserMax
		}
		st, err := l.attempts.Failure(ctx, k, now, l.cfg.Window)
		if err != nil {
			return blocks, err
		}
		if st.Failures <= limit || now.Before(st.BlockedUntil) {
			continue
		}
		ban := l.cfg.Ban
		for i := 0; i < st.Strikes && ban < l.cfg.MaxBan; i++ {
			ban *= 2
		}
		until := now.Add(min(ban, l.cfg.MaxBan))
		ok, err := l.attempts.Block(ctx, k, st.Strikes, until, until.Add(l.cfg.Memory))
		if err != nil {
			return blocks, err
		}
		if ok {
			blocks = append(blocks, Block{Kind: k.Kind, Key: k.Value, Until: until})
		}
	}
	if l.OnBlock != nil {
		for _, b := range blocks {
			l.OnBlock(b)
		}
	}
	return blocks, nil
}

// Success records a successful login of user from addr: that address is
// exempt from the user's block for the trust period.
func (l *Limiter) Success(ctx context.Context, addr netip.Addr, user string) error {
	if l == nil || user == "" || !addr.IsValid() {
		return nil
	}
	return l.attempts.Trust(ctx, user, addr.Unmap().String(), l.now().Add(l.cfg.Trust))
}

// Sweep drops counters that no longer matter.
func (l *Limiter) Sweep(ctx context.Context) error {
	if l == nil {
		return nil
	}
	return l.attempts.Sweep(ctx, l.now(), l.cfg.Window)
}
