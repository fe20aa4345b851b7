package auth

import (
	"context"
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/memstore"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

// limiters returns n limiters (n nodes) counting in one store, on one
// clock.
func limiters(cfg LimitConfig, n int) ([]*Limiter, *clock) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	a := memstore.NewAttempts()
	var ls []*Limiter
	for range n {
		l := NewLimiter(cfg, a)
		l.SetClock(c.now)
		ls = append(ls, l)
	}
	return ls, c
}

func newL(cfg LimitConfig) (*Limiter, *clock) {
	ls, c := limiters(cfg, 1)
	return ls[0], c
}

var (
	attacker = netip.MustParseAddr("203.0.113.9")
	owner    = netip.MustParseAddr("198.51.100.7")
)

func blocked(t *testing.T, l *Limiter, addr netip.Addr, user string) bool {
	t.Helper()
	b, err := l.Blocked(context.Background(), addr, user)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fail(t *testing.T, l *Limiter, addr netip.Addr, user string) {
	t.Helper()
	if _, err := l.Fail(context.Background(), addr, user); err != nil {
		t.Fatal(err)
	}
}

func TestIPLimitAndBanDoubling(t *testing.T) {
	l, c := newL(LimitConfig{IPMax: 3, UserMax: 100, Window: time.Minute, Ban: 10 * time.Minute, MaxBan: 25 * time.Minute})
	var blocks []Block
	l.OnBlock = func(b Block) { blocks = append(blocks, b) }
	for i := range 3 {
		fail(t, l, attacker, "u"+string(rune('a'+i)))
		if blocked(t, l, attacker, "") {
			t.Fatalf("blocked after %d failures, limit 3", i+1)
		}
	}
	fail(t, l, attacker, "ux")
	if !blocked(t, l, attacker, "anyone") || len(blocks) != 1 || blocks[0].Kind != store.AttemptIP {
		t.Fatalf("not blocked after 4 failures: %v", blocks)
	}
	if blocked(t, l, owner, "ua") {
		t.Fatal("another address is blocked too")
	}
	c.add(10*time.Minute + time.Second)
	if blocked(t, l, attacker, "") {
		t.Fatal("still blocked after the ban")
	}
	for range 4 {
		fail(t, l, attacker, "")
	}
	if !blocked(t, l, attacker, "") || !blocks[1].Until.Equal(c.now().Add(20*time.Minute)) {
		t.Fatalf("second ban not doubled: %v", blocks)
	}
	c.add(21 * time.Minute)
	for range 4 {
		fail(t, l, attacker, "")
	}
	if !blocks[2].Until.Equal(c.now().Add(25 * time.Minute)) {
		t.Fatalf("third ban not capped at MaxBan: %v", blocks[2])
	}
}

// TestStrikesForgotten: a key's strikes are forgotten Memory after its
// last block ended; its next block starts again at Ban.
func TestStrikesForgotten(t *testing.T) {
	l, c := newL(LimitConfig{IPMax: 1, UserMax: 100, Window: time.Minute, Ban: 10 * time.Minute, Memory: time.Hour})
	var blocks []Block
	l.OnBlock = func(b Block) { blocks = append(blocks, b) }
	fail(t, l, attacker, "")
	fail(t, l, attacker, "")
	c.add(10*time.Minute + time.Hour + time.Second)
	fail(t, l, attacker, "")
	fail(t, l, attacker, "")
	if len(blocks) != 2 || !blocks[1].Until.Equal(c.now().Add(10*time.Minute)) {
		t.Fatalf("block after the memory ended is not a first one: %v", blocks)
	}
}

func TestSlidingWindow(t *testing.T) {
	l, c := newL(LimitConfig{IPMax: 3, UserMax: 100, Window: time.Minute, Ban: time.Minute})
	for range 10 {
		fail(t, l, attacker, "")
		c.add(30 * time.Second) // at most 2 failures in any minute
	}
	if blocked(t, l, attacker, "") {
		t.Fatal("blocked although the window never held more than the limit")
	}
}

func TestUserLimitSparesTrustedAddresses(t *testing.T) {
	l, c := newL(LimitConfig{IPMax: 1000, UserMax: 5, Window: time.Minute, Ban: time.Hour})
	if err := l.Success(context.Background(), owner, "alice"); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		fail(t, l, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), "alice")
	}
	if !blocked(t, l, attacker, "alice") {
		t.Fatal("user not blocked after 6 failures from many addresses")
	}
	if blocked(t, l, owner, "alice") {
		t.Fatal("the address that logged in as alice is locked out")
	}
	if blocked(t, l, attacker, "bob") {
		t.Fatal("another user is blocked")
	}
	c.add(25 * time.Hour)
	for range 7 {
		fail(t, l, attacker, "alice")
	}
	if !blocked(t, l, owner, "alice") {
		t.Fatal("trust did not expire after 24h")
	}
}

func TestAllowListAndNil(t *testing.T) {
	l, _ := newL(LimitConfig{IPMax: 1, UserMax: 1, Window: time.Minute, Ban: time.Minute,
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	in := netip.MustParseAddr("10.1.1.1")
	for range 10 {
		fail(t, l, in, "")
	}
	if blocked(t, l, in, "") {
		t.Fatal("allow-listed address blocked")
	}
	mapped := netip.AddrFrom16(in.As16())
	if blocked(t, l, mapped, "") {
		t.Fatal("IPv4-mapped form of an allow-listed address blocked")
	}
	var nl *Limiter
	fail(t, nl, attacker, "x")
	if err := nl.Success(context.Background(), attacker, "x"); err != nil {
		t.Fatal(err)
	}
	if blocked(t, nl, attacker, "x") {
		t.Fatal("nil limiter blocked")
	}
}

// TestLimitsHoldForTheCluster: failures alternating between two nodes
// that count in one store are blocked at the limit, not at twice it, and
// the block starts once.
func TestLimitsHoldForTheCluster(t *testing.T) {
	ls, _ := limiters(LimitConfig{IPMax: 4, UserMax: 100, Window: time.Minute, Ban: time.Minute}, 2)
	var blocks int
	for _, l := range ls {
		l.OnBlock = func(Block) { blocks++ }
	}
	for i := range 4 {
		fail(t, ls[i%2], attacker, "")
	}
	if blocked(t, ls[0], attacker, "") || blocked(t, ls[1], attacker, "") {
		t.Fatal("blocked at the limit")
	}
	fail(t, ls[0], attacker, "")
	if !blocked(t, ls[0], attacker, "") || !blocked(t, ls[1], attacker, "") || blocks != 1 {
		t.Fatalf("after limit+1 failures over two nodes: blocked %v/%v, %d blocks", blocked(t, ls[0], attacker, ""), blocked(t, ls[1], attacker, ""), blocks)
	}
}

func TestResourceServer(t *testing.T) {
	ls, _ := limiters(LimitConfig{IPMax: 2, UserMax: 100, Window: time.Minute, Ban: time.Minute}, 1)
	a := &Authenticator{Limiter: ls[0], ResourceServers: []ResourceServer{
		{Name: "dovecot", SecretHash: sha256.Sum256([]byte("dovecot-secret-0123"))},
		{Name: "pma", SecretHash: sha256.Sum256([]byte("pma-secret-0123456"))},
	}}
	ctx := context.Background()
	basic := func(u, p string) string { return "Basic " + b64(u+":"+p) }
	if name, err := a.ResourceServer(ctx, basic("pma", "pma-secret-0123456"), owner); err != nil || name != "pma" {
		t.Fatalf("pma = %q, %v", name, err)
	}
	for _, h := range []string{"", basic("pma", "dovecot-secret-0123"), basic("nobody", "pma-secret-0123456"), "cpanel pma:pma-secret-0123456"} {
		if _, err := a.ResourceServer(ctx, h, attacker); err != ErrDenied {
			t.Errorf("%q: %v, want ErrDenied", h, err)
		}
	}
	// Three failures from the attacker's address: blocked, even with the
	// right secret.
	if _, err := a.ResourceServer(ctx, basic("pma", "pma-secret-0123456"), attacker); err != ErrDenied {
		t.Errorf("blocked address got in: %v", err)
	}
	if _, err := a.ResourceServer(ctx, basic("dovecot", "dovecot-secret-0123"), owner); err != nil {
		t.Errorf("another address is blocked too: %v", err)
	}
}
