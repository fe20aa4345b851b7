package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store"
)

// Manager applies the session lifecycle over a store.Sessions: lifetimes,
// one-time redemption, idle timeout and ends.
type Manager struct {
	Store store.Sessions
	// LoginTTL is how long a created session can be used to log in; Idle
	// ends a logged-in session after that long unused; Max caps its age.
	LoginTTL, Idle, Max time.Duration
	// Now returns the current time (tests override it).
	Now func() time.Time
	// OnEnd, if set, is called with the records the manager removes
	// (logout, revocation, expiry sweep), e.g. to drop their temporary
	// database users: once per removal, with every record that removal
	// took (one for a logout, up to a sweep batch for the sweep), never
	// with none. Errors are the callee's to handle.
	OnEnd func(ctx context.Context, rs []store.Session, reason string)
	// Audit receives an event for every creation and end of a session;
	// nil discards them.
	Audit *audit.Logger
	// Tickets keeps the sign-on tickets of sessions (signon.go); nil: no
	// sign-on. TicketTTL is how long a ticket lives (0: DefaultTicketTTL).
	Tickets   store.Tickets
	TicketTTL time.Duration
	// TempUsers creates temporary database users (CreateTempUser); nil:
	// none are configured.
	TempUsers TempUsers
}

// audit logs one event about r; secret (may be empty) is fingerprinted.
func (m *Manager) audit(ctx context.Context, event string, r store.Session, secret, reason string) {
	if m.Audit == nil {
		return
	}
	e := audit.Event{Event: event, Service: r.Service, Actor: r.Creator, Method: r.Method,
		Target: r.User, SessionID: r.ID, Reason: reason}
	if secret != "" {
		e.SecretFP = audit.Fingerprint(secret)
	}
	m.Audit.Log(ctx, e)
}

// endEvent maps an end reason to its audit event.
func endEvent(reason string) string {
	switch reason {
	case "logout":
		return audit.SessionLogout
	case "expired":
		return audit.SessionExpire
	}
	return audit.SessionRevoke
}

// Clock returns the current time of the manager.
func (m *Manager) Clock() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// NewSession describes a session to create.
type NewSession struct {
	User      string // account user, "root", or lower-case mailbox address
	Account   string // owning account ("root" for root)
	Service   string
	Tag       string // the session string's tag, e.g. TagMailUser
	Creator   string
	Method    string
	Origin    netip.Addr // zero: any address may log in
	Locale    string
	ReturnURL string
}

// Create makes a session whose login secret is not used yet and returns
// the stored record and the secret (the only time it exists in clear).
// cPanel sessions reserve a temporary database user name and password.
func (m *Manager) Create(ctx context.Context, n NewSession) (store.Session, string, error) {
	now := m.Clock().Truncate(time.Millisecond)
	for attempt := 0; ; attempt++ {
		secret := NewLoginSecret(n.User, n.Tag)
		r := store.Session{
			ID:        NewID(),
			User:      n.User,
			Account:   n.Account,
			Service:   n.Service,
			Token:     NewToken(),
			LoginHash: HashSecret(secret),
			Creator:   n.Creator,
			Method:    n.Method,
			Locale:    n.Locale,
			ReturnURL: n.ReturnURL,
			CreatedAt: now,
			LastUsed:  now,
			ExpiresAt: now.Add(m.LoginTTL),
		}
		if n.Origin.IsValid() {
			r.Origin = n.Origin.Unmap().String()
		}
		if n.Service == "cpaneld" {
			r.TempUser, r.TempPass = NewTempUser(n.Account)
		}
		err := m.Store.Create(ctx, r)
		if err == nil {
			m.audit(ctx, audit.SessionCreate, r, secret, "")
			return r, secret, nil
		}
		// A token collision (1 in 10^10 per live session) is retried.
		if !errors.Is(err, store.ErrExists) || attempt >= 5 {
			return store.Session{}, "", fmt.Errorf("create session: %w", err)
		}
	}
}

// CreateLoggedIn makes a session that is logged in at once (password
// login) and returns it with its cookie value.
func (m *Manager) CreateLoggedIn(ctx context.Context, n NewSession) (store.Session, string, error) {
	r, _, err := m.Create(ctx, n)
	if err != nil {
		return store.Session{}, "", err
	}
	r, cookie, err := m.Redeem(ctx, r, m.Clock())
	if err != nil {
		return store.Session{}, "", fmt.Errorf("log in new session: %w", err)
	}
	m.audit(ctx, audit.SessionLogin, r, cookie, "")
	return r, cookie, nil
}

// loggedInExpiry is when a session used at now ends unless used again:
// after the idle time, never past the absolute cap.
func (m *Manager) loggedInExpiry(r store.Session, now time.Time) time.Time {
	exp := now.Add(m.Idle)
	if limit := r.CreatedAt.Add(m.Max); limit.Before(exp) {
		exp = limit
	}
	return exp
}

// EndsAt is when a logged-in session ends at the latest.
func (m *Manager) EndsAt(r store.Session) time.Time { return r.CreatedAt.Add(m.Max) }

// ByLoginSecret returns the record a login session string leads to
// (expired and used ones included), or store.ErrNotFound.
func (m *Manager) ByLoginSecret(ctx context.Context, secret string) (store.Session, error) {
	return m.Store.ByLoginHash(ctx, HashSecret(secret))
}

// ByCookie returns the record a cookie value leads to, or
// store.ErrNotFound.
func (m *Manager) ByCookie(ctx context.Context, cookie string) (store.Session, error) {
	return m.Store.ByCookieHash(ctx, HashSecret(cookie))
}

// Redeem consumes the login of r at now and issues a fresh cookie value:
// exactly once, also across processes (the store's compare-and-swap).
// Whether r may be redeemed at all is the caller's decision. Errors:
// store.ErrConsumed, store.ErrNotFound, store.ErrExpired when another
// caller or the clock got there first.
func (m *Manager) Redeem(ctx context.Context, r store.Session, now time.Time) (store.Session, string, error) {
	cookie := NewCookieSecret(r.User)
	r, err := m.Store.Consume(ctx, r.ID, HashSecret(cookie), now, m.loggedInExpiry(r, now))
	if err != nil {
		return store.Session{}, "", err
	}
	return r, cookie, nil
}

// Touch records a use of the logged-in session r at now (idle timeout)
// and returns r as it now is. Errors: store.ErrExpired, store.ErrNotFound.
func (m *Manager) Touch(ctx context.Context, r store.Session, now time.Time) (store.Session, error) {
	exp := m.loggedInExpiry(r, now)
	if err := m.Store.Touch(ctx, r.ID, now, exp); err != nil {
		return store.Session{}, err
	}
	r.LastUsed, r.ExpiresAt = now, exp
	return r, nil
}

// End removes one session (logout, revocation) and reports it to OnEnd.
func (m *Manager) End(ctx context.Context, id, reason string) error {
	r, err := m.Store.Delete(ctx, id)
	if err != nil {
		return err
	}
	m.ended(ctx, []store.Session{r}, reason)
	return nil
}

// EndAccount removes every session of account (only those of user when
// user is not empty) and reports each to OnEnd. It returns how many ended.
func (m *Manager) EndAccount(ctx context.Context, account, user, reason string) (int, error) {
	rs, err := m.Store.DeleteByAccount(ctx, account, user)
	m.ended(ctx, rs, reason)
	return len(rs), err
}

// Sweep removes expired sessions in batches until none is left (or ctx
// ends) and reports each to OnEnd, and removes expired sign-on tickets.
// It returns how many sessions it removed.
func (m *Manager) Sweep(ctx context.Context, batch int) (int, error) {
	n, err := m.sweepSessions(ctx, batch)
	if m.Tickets != nil {
		if _, terr := m.Tickets.SweepTickets(ctx, m.Clock()); terr != nil {
			err = errors.Join(err, fmt.Errorf("sweep sign-on tickets: %w", terr))
		}
	}
	return n, err
}

func (m *Manager) sweepSessions(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		rs, err := m.Store.Sweep(ctx, m.Clock(), batch)
		m.ended(ctx, rs, "expired")
		total += len(rs)
		if err != nil || len(rs) == 0 || batch <= 0 || len(rs) < batch {
			return total, err
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// ended audits the end of each of rs and runs OnEnd.
func (m *Manager) ended(ctx context.Context, rs []store.Session, reason string) {
	if len(rs) == 0 {
		return
	}
	for _, r := range rs {
		m.audit(ctx, endEvent(reason), r, "", reason)
	}
	if m.OnEnd != nil {
		m.OnEnd(ctx, rs, reason)
	}
}
