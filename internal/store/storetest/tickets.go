package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

func (s suite) ticketTests() []namedTest {
	return []namedTest{
		{"CreateTakeOnce", s.testTicketCreateTake},
		{"CreateOnly", s.testTicketCreateOnly},
		{"Invalid", s.testTicketInvalid},
		{"Expired", s.testTicketExpired},
		{"Sweep", s.testTicketSweep},
		{"RaceTake", s.testTicketRace},
	}
}

func (s suite) sharedTicketTests() []namedTest {
	return []namedTest{
		{"CreateHereTakeThere", s.testTicketAcross},
		{"RaceTakeTwoHandles", s.testTicketRaceAcross},
	}
}

func (s suite) tickets(t testing.TB) store.Tickets {
	t.Helper()
	x := s.b.New(t).Tickets
	if x == nil {
		t.Fatal("Backend.New returned no Tickets this time")
	}
	return x
}

func (s suite) ticketPair(t testing.TB) (a, b store.Tickets) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.Tickets == nil || hb.Tickets == nil {
		t.Fatal("Backend.Pair returned no Tickets this time")
	}
	return ha.Tickets, hb.Tickets
}

// newTicket returns a ticket of a fresh hash for a fresh session id,
// expiring 60 s after the suite's now (given with nanoseconds).
func newTicket() store.Ticket {
	return store.Ticket{Hash: tokenHash(randText(alnumUnder, 40)), SessionID: newID(), ExpiresAt: t0.Add(60 * time.Second)}
}

// sameTicket compares a returned ticket with the one created: the same
// hash and session, the expiry at millisecond precision in UTC.
func sameTicket(t testing.TB, what string, got, want store.Ticket) {
	t.Helper()
	wantExp := want.ExpiresAt.Truncate(time.Millisecond).UTC()
	if !bytes.Equal(got.Hash, want.Hash) || got.SessionID != want.SessionID || !got.ExpiresAt.Equal(wantExp) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("%s = {%x %s %v}, want {%x %s %v}", what, got.Hash, got.SessionID, got.ExpiresAt, want.Hash, want.SessionID, wantExp)
	}
}

func (s suite) testTicketCreateTake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := s.tickets(t)
	a, b := newTicket(), newTicket()
	must(t, ts.CreateTicket(ctx, a))
	must(t, ts.CreateTicket(ctx, b))
	_, err := ts.TakeTicket(ctx, newTicket().Hash, t0)
	wantErr(t, "TakeTicket of an unknown hash", err, store.ErrNotFound)
	_, err = ts.TakeTicket(ctx, nil, t0)
	wantErr(t, "TakeTicket of no hash", err, store.ErrNotFound)
	got, err := ts.TakeTicket(ctx, a.Hash, t0)
	must(t, err)
	sameTicket(t, "TakeTicket", got, a)
	_, err = ts.TakeTicket(ctx, a.Hash, t0)
	wantErr(t, "TakeTicket a second time", err, store.ErrNotFound)
	// Taking one leaves the others.
	got, err = ts.TakeTicket(ctx, b.Hash, t0.Add(59*time.Second))
	must(t, err)
	sameTicket(t, "TakeTicket of the other ticket", got, b)
}

func (s suite) testTicketCreateOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := s.tickets(t)
	a := newTicket()
	must(t, ts.CreateTicket(ctx, a))
	other := newTicket()
	other.Hash = a.Hash
	wantErr(t, "CreateTicket of a present hash", ts.CreateTicket(ctx, other), store.ErrExists)
	got, err := ts.TakeTicket(ctx, a.Hash, t0)
	must(t, err)
	sameTicket(t, "TakeTicket after a refused duplicate", got, a)
}

func (s suite) testTicketInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := s.tickets(t)
	for name, mod := range map[string]func(*store.Ticket){
		"short hash":       func(x *store.Ticket) { x.Hash = x.Hash[:31] },
		"no hash":          func(x *store.Ticket) { x.Hash = nil },
		"no session":       func(x *store.Ticket) { x.SessionID = "" },
		"NUL in session":   func(x *store.Ticket) { x.SessionID = "a\x00b" },
		"invalid UTF-8":    func(x *store.Ticket) { x.SessionID = "a\xffb" },
		"no expiry":        func(x *store.Ticket) { x.ExpiresAt = time.Time{} },
		"too long session": func(x *store.Ticket) { x.SessionID = randText(alnumLower, store.MaxFieldLen+1) },
	} {
		x := newTicket()
		mod(&x)
		wantErr(t, "CreateTicket with "+name, ts.CreateTicket(ctx, x), store.ErrInvalid)
	}
}

func (s suite) testTicketExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := s.tickets(t)
	a := newTicket()
	must(t, ts.CreateTicket(ctx, a))
	// At its expiry (millisecond precision) a ticket is expired, as a
	// session is.
	_, err := ts.TakeTicket(ctx, a.Hash, a.ExpiresAt.Truncate(time.Millisecond))
	wantErr(t, "TakeTicket at the expiry", err, store.ErrExpired)
	_, err = ts.TakeTicket(ctx, a.Hash, t0)
	wantErr(t, "TakeTicket after an expired attempt", err, store.ErrNotFound)

	b := newTicket()
	must(t, ts.CreateTicket(ctx, b))
	got, err := ts.TakeTicket(ctx, b.Hash, b.ExpiresAt.Truncate(time.Millisecond).Add(-time.Millisecond))
	must(t, err)
	sameTicket(t, "TakeTicket a millisecond before the expiry", got, b)
}

func (s suite) testTicketSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := s.tickets(t)
	old1, old2, live := newTicket(), newTicket(), newTicket()
	old1.ExpiresAt, old2.ExpiresAt = t0.Add(time.Second), t0.Add(2*time.Second)
	live.ExpiresAt = t0.Add(time.Hour)
	for _, x := range []store.Ticket{old1, old2, live} {
		must(t, ts.CreateTicket(ctx, x))
	}
	now := t0.Add(time.Minute)
	n, err := ts.SweepTickets(ctx, now)
	must(t, err)
	switch n {
	case 2:
		for _, x := range []store.Ticket{old1, old2} {
			_, err := ts.TakeTicket(ctx, x.Hash, now)
			wantErr(t, "TakeTicket of a swept ticket", err, store.ErrNotFound)
		}
	case 0: // left to the server's own expiry
		for _, x := range []store.Ticket{old1, old2} {
			if _, err := ts.TakeTicket(ctx, x.Hash, now); !errors.Is(err, store.ErrExpired) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("TakeTicket of an expired ticket after a sweep: %v, want ErrExpired or ErrNotFound", err)
			}
		}
	default:
		t.Errorf("SweepTickets removed %d tickets, want the 2 expired ones (or 0 where the server expires them)", n)
	}
	got, err := ts.TakeTicket(ctx, live.Hash, now)
	must(t, err)
	sameTicket(t, "TakeTicket of the live ticket after a sweep", got, live)
}

// raceTake has racers goroutines (spread over the handles) take one
// ticket at once and checks that exactly one got it and the others
// ErrNotFound.
func raceTake(t testing.TB, handles []store.Tickets, x store.Ticket, racers int) {
	t.Helper()
	ctx := context.Background()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var won atomic.Int32
	errs := make(chan error, racers)
	for i := range racers {
		ts := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			got, err := ts.TakeTicket(ctx, x.Hash, t0)
			switch {
			case err == nil:
				won.Add(1)
				if got.SessionID != x.SessionID {
					errs <- errors.New("the winner got another session id")
				}
			case !errors.Is(err, store.ErrNotFound):
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("racing TakeTicket: %v", err)
	}
	if n := won.Load(); n != 1 {
		t.Fatalf("%d of %d racing TakeTicket calls got the ticket, want exactly 1", n, racers)
	}
}

func (s suite) testTicketRace(t *testing.T) {
	t.Parallel()
	ts := s.tickets(t)
	x := newTicket()
	must(t, ts.CreateTicket(context.Background(), x))
	raceTake(t, []store.Tickets{ts}, x, Racers)
}

func (s suite) testTicketAcross(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.ticketPair(t)
	x := newTicket()
	must(t, a.CreateTicket(ctx, x))
	wantErr(t, "CreateTicket of the same hash on the other handle", b.CreateTicket(ctx, x), store.ErrExists)
	got, err := b.TakeTicket(ctx, x.Hash, t0)
	must(t, err)
	sameTicket(t, "TakeTicket on the other handle", got, x)
	_, err = a.TakeTicket(ctx, x.Hash, t0)
	wantErr(t, "TakeTicket on the first handle after the other took it", err, store.ErrNotFound)
}

func (s suite) testTicketRaceAcross(t *testing.T) {
	t.Parallel()
	a, b := s.ticketPair(t)
	for range Racers {
		x := newTicket()
		must(t, a.CreateTicket(context.Background(), x))
		raceTake(t, []store.Tickets{a, b}, x, 4)
	}
}
