package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/uapid/uapid/internal/audit"
)

// Login failure codes (SPEC §4). They are shown to clients.
const (
	CodeInvalidSession = "invalid_session"
	CodeExpiredSession = "expired_session"
	CodeTokenIncorrect = "token_incorrect"
	CodeTokenMissing   = "token_missing"
	CodeChangedIP      = "changed_ip"
	CodeInvalidLogin   = "invalid_login"
)

// Address validation modes.
const (
	IPStrict   = "strict"
	IPLoose    = "loose"
	IPDisabled = "disabled"
)

// Manager applies uapid's session rules (lifetimes, one-time logins, token
// and address checks) over a Store. It holds no state of its own, so any
// number of Managers (and processes) may share one Store.
type Manager struct {
	Store Store
	// LoginTTL is how long a created session can be used to log in; Idle
	// ends a logged-in session after that long unused; Max caps its age.
	LoginTTL, Idle, Max time.Duration
	// IPValidation is IPStrict, IPLoose or IPDisabled.
	IPValidation string
	// Now returns the current time (tests override it).
	Now func() time.Time
	// OnEnd, if set, is called with every record the manager removes
	// (logout, revocation, expiry sweep), e.g. to drop its temporary
	// database user. Errors are the callee's to handle.
	OnEnd func(ctx context.Context, r Record, reason string)
	// Audit receives an event for every creation, login (and refused
	// login) and end of a session; nil discards them.
	Audit *audit.Logger
}

// audit logs one event about r; secret (may be empty) is fingerprinted.
func (m *Manager) audit(ctx context.Context, event string, r Record, secret, reason string) {
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

func (m *Manager) now() time.Time {
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

// Create makes a session whose login secret is not used yet and returns the
// stored record and the secret (the only time it exists in clear). cPanel
// sessions reserve a temporary database user name and password.
func (m *Manager) Create(ctx context.Context, n NewSession) (Record, string, error) {
	now := m.now().Truncate(time.Millisecond)
	for attempt := 0; ; attempt++ {
		secret := NewLoginSecret(n.User, n.Tag)
		r := Record{
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
		if !errors.Is(err, ErrExists) || attempt >= 5 {
			return Record{}, "", fmt.Errorf("create session: %w", err)
		}
	}
}

// CreateLoggedIn makes a session that is logged in at once (password login)
// and returns it with its cookie value.
func (m *Manager) CreateLoggedIn(ctx context.Context, n NewSession) (Record, string, error) {
	r, _, err := m.Create(ctx, n)
	if err != nil {
		return Record{}, "", err
	}
	cookie := NewCookieSecret(n.User)
	now := m.now()
	r, err = m.Store.Consume(ctx, r.ID, HashSecret(cookie), now, m.loggedInExpiry(r, now))
	if err != nil {
		return Record{}, "", fmt.Errorf("log in new session: %w", err)
	}
	m.audit(ctx, audit.SessionLogin, r, cookie, "")
	return r, cookie, nil
}

func (m *Manager) loggedInExpiry(r Record, now time.Time) time.Time {
	exp := now.Add(m.Idle)
	if limit := r.CreatedAt.Add(m.Max); limit.Before(exp) {
		exp = limit
	}
	return exp
}

// LoginRequest is an attempt to redeem a login secret.
type LoginRequest struct {
	Secret  string     // the session string
	Token   string     // the /cpsess… token of the URL
	Service string     // the service of the port it arrived on
	Remote  netip.Addr // the client address
}

// LoginError is a refused login with its reason code.
type LoginError struct{ Code string }

func (e *LoginError) Error() string { return "login refused: " + e.Code }

// Login checks a login attempt and, if every rule holds, consumes the login
// secret (exactly once, also across processes) and issues a fresh cookie
// value. A refused attempt returns a *LoginError and changes nothing, except
// that a secret already consumed stays consumed. The account and mailbox
// suspension checks are the caller's (allow, run between the checks and the
// consumption, returns false to refuse with CodeInvalidLogin).
func (m *Manager) Login(ctx context.Context, req LoginRequest, allow func(Record) (bool, error)) (Record, string, error) {
	r, cookie, err := m.login(ctx, req, allow)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		user, _, _ := ParseLoginSecret(req.Secret)
		if r.ID == "" {
			r = Record{Service: req.Service, User: user}
		}
		m.audit(ctx, audit.SessionLoginFailed, r, req.Secret, le.Code)
	case err == nil:
		m.audit(ctx, audit.SessionLogin, r, req.Secret, "")
	}
	if err != nil {
		return Record{}, "", err
	}
	return r, cookie, nil
}

// login is Login without the audit; on a *LoginError it returns the record
// it found (if any) for the audit.
func (m *Manager) login(ctx context.Context, req LoginRequest, allow func(Record) (bool, error)) (Record, string, error) {
	if _, _, ok := ParseLoginSecret(req.Secret); !ok {
		return Record{}, "", &LoginError{CodeInvalidSession}
	}
	r, err := m.Store.ByLoginHash(ctx, HashSecret(req.Secret))
	if errors.Is(err, ErrNotFound) {
		return Record{}, "", &LoginError{CodeInvalidSession}
	}
	if err != nil {
		return Record{}, "", err
	}
	now := m.now()
	switch {
	case r.Consumed || r.Service != req.Service:
		return r, "", &LoginError{CodeInvalidSession}
	case r.Expired(now):
		return r, "", &LoginError{CodeExpiredSession}
	case subtle.ConstantTimeCompare([]byte(req.Token), []byte(r.Token)) != 1:
		return r, "", &LoginError{CodeTokenIncorrect}
	case !m.addressOK(r.Origin, req.Remote):
		return r, "", &LoginError{CodeChangedIP}
	}
	if allow != nil {
		ok, err := allow(r)
		if err != nil {
			return Record{}, "", err
		}
		if !ok {
			return r, "", &LoginError{CodeInvalidLogin}
		}
	}
	cookie := NewCookieSecret(r.User)
	found := r
	r, err = m.Store.Consume(ctx, r.ID, HashSecret(cookie), now, m.loggedInExpiry(r, now))
	switch {
	case errors.Is(err, ErrConsumed), errors.Is(err, ErrNotFound):
		return found, "", &LoginError{CodeInvalidSession}
	case errors.Is(err, ErrExpired):
		return found, "", &LoginError{CodeExpiredSession}
	case err != nil:
		return Record{}, "", err
	}
	return r, cookie, nil
}

// addressOK applies the address validation mode.
func (m *Manager) addressOK(origin string, remote netip.Addr) bool {
	if m.IPValidation == IPDisabled || origin == "" {
		return true
	}
	o, err := netip.ParseAddr(origin)
	if err != nil || !remote.IsValid() {
		return false
	}
	o, remote = o.Unmap(), remote.Unmap()
	if m.IPValidation == IPLoose {
		bits := 24
		if o.Is6() {
			bits = 64
		}
		if o.Is4() != remote.Is4() {
			return false
		}
		p, _ := o.Prefix(bits)
		return p.Contains(remote)
	}
	return o == remote
}

// Authenticate resolves a cookie value plus the request's /cpsess… token to
// a logged-in session and records the use (idle timeout). Refusals are
// *LoginError with CodeInvalidSession, CodeExpiredSession, CodeTokenMissing
// or CodeTokenIncorrect. The token is checked only after the cookie matched:
// it guards against cross-site requests, it never authenticates alone.
func (m *Manager) Authenticate(ctx context.Context, service, cookie, token string) (Record, error) {
	if _, ok := ParseCookieSecret(cookie); !ok {
		return Record{}, &LoginError{CodeInvalidSession}
	}
	r, err := m.Store.ByCookieHash(ctx, HashSecret(cookie))
	if errors.Is(err, ErrNotFound) {
		return Record{}, &LoginError{CodeInvalidSession}
	}
	if err != nil {
		return Record{}, err
	}
	now := m.now()
	switch {
	case r.Service != service || !r.Consumed:
		return Record{}, &LoginError{CodeInvalidSession}
	case r.Expired(now):
		return Record{}, &LoginError{CodeExpiredSession}
	case token == "":
		return Record{}, &LoginError{CodeTokenMissing}
	case subtle.ConstantTimeCompare([]byte(token), []byte(r.Token)) != 1:
		return Record{}, &LoginError{CodeTokenIncorrect}
	}
	exp := m.loggedInExpiry(r, now)
	if err := m.Store.Touch(ctx, r.ID, now, exp); err != nil {
		if errors.Is(err, ErrExpired) {
			return Record{}, &LoginError{CodeExpiredSession}
		}
		if errors.Is(err, ErrNotFound) {
			return Record{}, &LoginError{CodeInvalidSession}
		}
		return Record{}, err
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
	m.ended(ctx, r, reason)
	return nil
}

// EndAccount removes every session of account (only those of user when
// user is not empty) and reports each to OnEnd. It returns how many ended.
func (m *Manager) EndAccount(ctx context.Context, account, user, reason string) (int, error) {
	rs, err := m.Store.DeleteByAccount(ctx, account, user)
	for _, r := range rs {
		m.ended(ctx, r, reason)
	}
	return len(rs), err
}

// Sweep removes expired sessions in batches until none is left (or ctx
// ends) and reports each to OnEnd. It returns how many it removed.
func (m *Manager) Sweep(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		rs, err := m.Store.Sweep(ctx, m.now(), batch)
		for _, r := range rs {
			m.ended(ctx, r, "expired")
		}
		total += len(rs)
		if err != nil || len(rs) == 0 || batch <= 0 || len(rs) < batch {
			return total, err
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// ended audits the end of r and runs OnEnd.
func (m *Manager) ended(ctx context.Context, r Record, reason string) {
	m.audit(ctx, endEvent(reason), r, "", reason)
	if m.OnEnd != nil {
		m.OnEnd(ctx, r, reason)
	}
}
