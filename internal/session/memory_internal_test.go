package session

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// checkMemory verifies the invariants of m's indexes and heap against the
// set of ids the model expects.
func checkMemory(t *testing.T, m *Memory, want map[string]bool) {
	t.Helper()
	if len(m.expiry) != len(want) {
		t.Fatalf("heap holds %d entries, want %d", len(m.expiry), len(want))
	}
	logins, cookies := 0, 0
	for i, e := range m.expiry {
		if int(e.heapIdx) != i {
			t.Fatalf("entry %s: heapIdx %d at position %d", e.id(), e.heapIdx, i)
		}
		if i > 0 && m.expiry[(i-1)/2].expires > e.expires {
			t.Fatalf("heap order broken at %d", i)
		}
		if !want[e.id()] {
			t.Fatalf("unexpected entry %s", e.id())
		}
		if m.byID.findString(e.id()) != e || m.byToken.findString(e.token()) != e {
			t.Fatalf("entry %s not found by id or token", e.id())
		}
		if e.has(flagLogin) {
			logins++
			if m.byLogin.findHash(&e.login) != e {
				t.Fatalf("entry %s not found by login hash", e.id())
			}
		}
		if e.has(flagCookie) {
			cookies++
			if m.byCookie.findHash(&e.cookie) != e {
				t.Fatalf("entry %s not found by cookie hash", e.id())
			}
		}
	}
	for _, c := range []struct {
		x    *memIndex
		want int
	}{{&m.byID, len(want)}, {&m.byToken, len(want)}, {&m.byLogin, logins}, {&m.byCookie, cookies}} {
		n := 0
		for _, e := range c.x.slots {
			if e != nil {
				n++
			}
		}
		if n != c.want || c.x.count != c.want {
			t.Fatalf("index %d holds %d (count %d), want %d", c.x.kind, n, c.x.count, c.want)
		}
	}
}

// TestMemoryRandomOps drives the memory store with random operations and
// checks its indexes and expiry heap after each step; it exercises index
// growth and shrinking and backward-shift deletion.
func TestMemoryRandomOps(t *testing.T) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	m := NewMemory()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	live := map[string]bool{}
	var ids []string
	pick := func() string { return ids[rng.IntN(len(ids))] }
	for step := range 20000 {
		now := base.Add(time.Duration(step) * time.Second)
		switch op := rng.IntN(10); {
		case op < 4 || len(ids) == 0:
			r := Record{
				ID: NewID(), Token: NewToken(), User: "u", Account: fmt.Sprint("a", rng.IntN(5)),
				CreatedAt: now, ExpiresAt: now.Add(time.Duration(rng.IntN(600)) * time.Second),
			}
			if rng.IntN(3) > 0 {
				r.LoginHash = HashSecret(NewLoginSecret("u", TagSelf))
			}
			if rng.IntN(4) == 0 {
				r.CookieHash, r.Consumed = HashSecret(NewCookieSecret("u")), true
			}
			if err := m.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			live[r.ID] = true
			ids = append(ids, r.ID)
		case op < 5:
			id := pick()
			_, err := m.Delete(ctx, id)
			if (err == nil) != live[id] {
				t.Fatalf("Delete(%s): %v, live %v", id, err, live[id])
			}
			delete(live, id)
		case op < 6:
			id := pick()
			_ = m.Touch(ctx, id, now, now.Add(time.Duration(rng.IntN(900))*time.Second))
		case op < 7:
			id := pick()
			_, _ = m.Consume(ctx, id, HashSecret(NewCookieSecret("u")), now, now.Add(time.Duration(rng.IntN(900))*time.Second))
		case op < 8:
			rs, err := m.Sweep(ctx, now, rng.IntN(20))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if !live[r.ID] || !r.Expired(now) {
					t.Fatalf("Sweep returned %s (live %v, expired %v)", r.ID, live[r.ID], r.Expired(now))
				}
				delete(live, r.ID)
			}
		case op < 9:
			if rng.IntN(50) == 0 {
				rs, err := m.DeleteByAccount(ctx, fmt.Sprint("a", rng.IntN(5)), "")
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					delete(live, r.ID)
				}
			}
		default:
			id := pick()
			_, err := m.Get(ctx, id)
			if (err == nil) != live[id] {
				t.Fatalf("Get(%s): %v, live %v", id, err, live[id])
			}
		}
		if step%97 == 0 {
			checkMemory(t, m, live)
		}
	}
	checkMemory(t, m, live)
	// Sweeping everything empties and shrinks the indexes.
	if _, err := m.Sweep(ctx, base.Add(100*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	checkMemory(t, m, map[string]bool{})
	if n := len(m.byID.slots); n != minIndexSlots {
		t.Errorf("empty id index has %d slots, want %d", n, minIndexSlots)
	}
}
