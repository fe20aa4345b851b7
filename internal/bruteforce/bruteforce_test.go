package bruteforce

import (
	"net/netip"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newL(cfg Config) (*Limiter, *clock) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	l := New(cfg)
	l.SetClock(c.now)
	return l, c
}

var (
	attacker = netip.MustParseAddr("203.0.113.9")
	owner    = netip.MustParseAddr("198.51.100.7")
)

func TestIPLimitAndBanDoubling(t *testing.T) {
	l, c := newL(Config{IPMax: 3, UserMax: 100, Window: time.Minute, Ban: 10 * time.Minute, MaxBan: 25 * time.Minute})
	var blocks []Block
	l.OnBlock = func(b Block) { blocks = append(blocks, b) }
	for i := range 3 {
		l.Fail(attacker, "u"+string(rune('a'+i)))
		if l.Blocked(attacker, "") {
			t.Fatalf("blocked after %d failures, limit 3", i+1)
		}
	}
	l.Fail(attacker, "ux")
	if !l.Blocked(attacker, "anyone") || len(blocks) != 1 || blocks[0].Kind != "ip" {
		t.Fatalf("not blocked after 4 failures: %v", blocks)
	}
	if l.Blocked(owner, "ua") {
		t.Fatal("another address is blocked too")
	}
	c.add(10*time.Minute + time.Second)
	if l.Blocked(attacker, "") {
		t.Fatal("still blocked after the ban")
	}
	for range 4 {
		l.Fail(attacker, "")
	}
	if !l.Blocked(attacker, "") || !blocks[1].Until.Equal(c.now().Add(20*time.Minute)) {
		t.Fatalf("second ban not doubled: %v", blocks)
	}
	c.add(21 * time.Minute)
	for range 4 {
		l.Fail(attacker, "")
	}
	if !blocks[2].Until.Equal(c.now().Add(25 * time.Minute)) {
		t.Fatalf("third ban not capped at MaxBan: %v", blocks[2])
	}
}

func TestSlidingWindow(t *testing.T) {
	l, c := newL(Config{IPMax: 3, UserMax: 100, Window: time.Minute, Ban: time.Minute})
	for range 10 {
		l.Fail(attacker, "")
		c.add(30 * time.Second) // at most 2 failures in any minute
	}
	if l.Blocked(attacker, "") {
		t.Fatal("blocked although the window never held more than the limit")
	}
}

func TestUserLimitSparesTrustedAddresses(t *testing.T) {
	l, c := newL(Config{IPMax: 1000, UserMax: 5, Window: time.Minute, Ban: time.Hour})
	l.Success(owner, "alice")
	for i := range 6 {
		l.Fail(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), "alice")
	}
	if !l.Blocked(attacker, "alice") {
		t.Fatal("user not blocked after 6 failures from many addresses")
	}
	if l.Blocked(owner, "alice") {
		t.Fatal("the address that logged in as alice is locked out")
	}
	if l.Blocked(attacker, "bob") {
		t.Fatal("another user is blocked")
	}
	c.add(25 * time.Hour)
	l.Fail(attacker, "alice")
	for range 6 {
		l.Fail(attacker, "alice")
	}
	if !l.Blocked(owner, "alice") {
		t.Fatal("trust did not expire after 24h")
	}
}

func TestAllowListAndNil(t *testing.T) {
	l, _ := newL(Config{IPMax: 1, UserMax: 1, Window: time.Minute, Ban: time.Minute,
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	in := netip.MustParseAddr("10.1.1.1")
	for range 10 {
		l.Fail(in, "")
	}
	if l.Blocked(in, "") {
		t.Fatal("allow-listed address blocked")
	}
	mapped := netip.AddrFrom16(in.As16())
	if l.Blocked(mapped, "") {
		t.Fatal("IPv4-mapped form of an allow-listed address blocked")
	}
	var nl *Limiter
	nl.Fail(attacker, "x")
	nl.Success(attacker, "x")
	if nl.Blocked(attacker, "x") {
		t.Fatal("nil limiter blocked")
	}
}

func TestBoundedState(t *testing.T) {
	l, c := newL(Config{IPMax: 1000, UserMax: 1000, Window: time.Second, Ban: time.Second, MaxKeys: 100})
	for i := range 5000 {
		l.Fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "")
		c.add(time.Millisecond)
	}
	if n := len(l.ips); n > 100 {
		t.Fatalf("%d addresses tracked, bound 100", n)
	}
}
