package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// ledgerTick is how long the ordering test waits between recordings so
// that the later ones are younger at any clock precision a store may keep
// (a second included).
const ledgerTick = 1100 * time.Millisecond

func (s suite) ledgerTests() []namedTest {
	return []namedTest{
		{"RecordGetRemove", s.testLedgerRecordGetRemove},
		{"ListOldestFirst", s.testLedgerList},
	}
}

func (s suite) sharedLedgerTests() []namedTest {
	return []namedTest{
		{"RecordHereSeeThere", s.testLedgerAcross},
		{"RaceRecord", s.testLedgerRace},
	}
}

func (s suite) ledgerPair(t testing.TB) (a, b store.Ledger) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.Ledger == nil || hb.Ledger == nil {
		t.Fatal("Backend.Pair returned no Ledger this time")
	}
	return ha.Ledger, hb.Ledger
}

func newTempEntry(account string) store.TempUser {
	name, _ := newTempUser(account)
	return store.TempUser{Name: name, Account: account, SessionID: newID()}
}

func tempNames(us []store.TempUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Name
	}
	return out
}

func checkTempUser(t testing.TB, l store.Ledger, want store.TempUser) {
	t.Helper()
	got, err := l.GetTempUser(context.Background(), want.Name)
	if err != nil {
		t.Errorf("GetTempUser(%s): %v", want.Name, err)
		return
	}
	if got != want {
		t.Errorf("GetTempUser(%s) = %+v, want %+v", want.Name, got, want)
	}
}

func listTempUsers(t testing.TB, l store.Ledger) []store.TempUser {
	t.Helper()
	list, err := l.ListTempUsers(context.Background())
	must(t, err)
	return list
}

func (s suite) testLedgerRecordGetRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := s.ledger(t)
	a := newTempEntry("alice")
	_, err := l.GetTempUser(ctx, a.Name)
	wantErr(t, "GetTempUser of an unknown name", err, store.ErrNotFound)
	_, err = l.GetTempUser(ctx, "")
	wantErr(t, "GetTempUser(\"\")", err, store.ErrNotFound)

	must(t, l.RecordTempUser(ctx, a))
	checkTempUser(t, l, a)
	// The same entry again: a no-op.
	must(t, l.RecordTempUser(ctx, a))
	if list := listTempUsers(t, l); len(list) != 1 || list[0] != a {
		t.Errorf("ListTempUsers after recording twice = %+v, want [%+v]", list, a)
	}
	// The name for another session: taken.
	stolen := a
	stolen.SessionID = newID()
	wantErr(t, "RecordTempUser of a name taken by another session", l.RecordTempUser(ctx, stolen), store.ErrExists)
	stolen.Account = "mallory"
	wantErr(t, "RecordTempUser of a name taken by another session and account", l.RecordTempUser(ctx, stolen), store.ErrExists)
	checkTempUser(t, l, a)

	b := newTempEntry("bob")
	must(t, l.RecordTempUser(ctx, b))
	checkTempUser(t, l, b)
	checkTempUser(t, l, a)

	must(t, l.RemoveTempUser(ctx, a.Name))
	_, err = l.GetTempUser(ctx, a.Name)
	wantErr(t, "GetTempUser after RemoveTempUser", err, store.ErrNotFound)
	must(t, l.RemoveTempUser(ctx, a.Name))
	must(t, l.RemoveTempUser(ctx, "cpses_never"))
	checkTempUser(t, l, b)
	if list := listTempUsers(t, l); len(list) != 1 || list[0] != b {
		t.Errorf("ListTempUsers after RemoveTempUser = %+v, want [%+v]", list, b)
	}

	// A removed name is free for another session.
	stolen = a
	stolen.SessionID = newID()
	must(t, l.RecordTempUser(ctx, stolen))
	checkTempUser(t, l, stolen)
}

// testLedgerList: ListTempUsers lists every entry, oldest first (by the
// time it was recorded, then by name); recording an entry again does not
// make it younger.
func (s suite) testLedgerList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := s.ledger(t)
	if list := listTempUsers(t, l); len(list) != 0 {
		t.Fatalf("ListTempUsers of an empty ledger = %+v", list)
	}
	// Recorded within one tick in name order: whatever the clock's
	// precision, they list in this order.
	b := store.TempUser{Name: "cpses_bo00000001", Account: "bob", SessionID: newID()}
	c := store.TempUser{Name: "cpses_ca00000001", Account: "carol", SessionID: newID()}
	must(t, l.RecordTempUser(ctx, b))
	must(t, l.RecordTempUser(ctx, c))
	time.Sleep(ledgerTick)
	// Younger, though first by name.
	a := store.TempUser{Name: "cpses_al00000001", Account: "alice", SessionID: newID()}
	must(t, l.RecordTempUser(ctx, a))
	must(t, l.RecordTempUser(ctx, b)) // a no-op: b stays the oldest
	want := []store.TempUser{b, c, a}
	if got := listTempUsers(t, l); !slices.Equal(got, want) {
		t.Errorf("ListTempUsers = %v, want %v (oldest first)", tempNames(got), tempNames(want))
	}
	must(t, l.RemoveTempUser(ctx, c.Name))
	want = []store.TempUser{b, a}
	if got := listTempUsers(t, l); !slices.Equal(got, want) {
		t.Errorf("ListTempUsers after a removal = %v, want %v", tempNames(got), tempNames(want))
	}
}

func (s suite) testLedgerAcross(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.ledgerPair(t)
	u := newTempEntry("alice")
	must(t, a.RecordTempUser(ctx, u))
	checkTempUser(t, b, u)
	must(t, b.RecordTempUser(ctx, u)) // the same entry again, from the other node
	stolen := u
	stolen.SessionID = newID()
	wantErr(t, "RecordTempUser of a name the other handle recorded", b.RecordTempUser(ctx, stolen), store.ErrExists)
	if list := listTempUsers(t, b); len(list) != 1 || list[0] != u {
		t.Errorf("ListTempUsers on the other handle = %+v, want [%+v]", list, u)
	}
	must(t, b.RemoveTempUser(ctx, u.Name))
	_, err := a.GetTempUser(ctx, u.Name)
	wantErr(t, "GetTempUser after the other handle removed it", err, store.ErrNotFound)
}

// testLedgerRace: two handles record one name at once, for two sessions
// (one wins, the other gets ErrExists) or, every fifth round, for the same
// session and account (both succeed).
func (s suite) testLedgerRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.ledgerPair(t)
	for i := range Racers {
		ua := store.TempUser{Name: fmt.Sprintf("cpses_al%08d", i), Account: "alice", SessionID: newID()}
		ub := ua
		same := i%5 == 4
		if !same {
			ub.SessionID = newID()
		}
		ea, eb := race2(func() error { return a.RecordTempUser(ctx, ua) }, func() error { return b.RecordTempUser(ctx, ub) })
		win := ua
		if same {
			if ea != nil || eb != nil {
				t.Errorf("round %d: recording one entry twice at once: %v, %v; want both nil", i, ea, eb)
			}
		} else {
			aWon, ok := oneWins(t, fmt.Sprintf("round %d: RecordTempUser(%s)", i, ua.Name), ea, eb)
			if !ok {
				continue
			}
			if !aWon {
				win = ub
			}
		}
		checkTempUser(t, a, win)
		checkTempUser(t, b, win)
		if t.Failed() {
			t.Fatalf("stopping after round %d", i)
		}
	}
	if list := listTempUsers(t, a); len(list) != Racers {
		t.Errorf("%d entries after the races, want %d", len(list), Racers)
	}
}
