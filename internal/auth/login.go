package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/netip"
	"strings"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
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

// Address validation modes of logins.
const (
	IPStrict   = "strict"
	IPLoose    = "loose"
	IPDisabled = "disabled"
)

// LoginError is a refused login or session with its reason code.
type LoginError struct{ Code string }

func (e *LoginError) Error() string { return "login refused: " + e.Code }

func refuse(code string) error { return &LoginError{Code: code} }

// LoginRequest is an attempt to redeem a one-time login secret.
type LoginRequest struct {
	Secret  string     // the session string
	Token   string     // the /cpsess… token of the URL
	Service string     // the service of the port it arrived on
	Remote  netip.Addr // the client address
}

// SessionLogin redeems a one-time login secret (SPEC §4): the session must
// exist, be unexpired and unused, belong to this port's service, have this
// token and (unless address validation is off) this client address, and
// its account and mailbox must be allowed to log in. Then the secret is
// consumed exactly once, also across processes, and a fresh cookie value
// is issued. A refusal is a *LoginError and changes nothing; guessing
// secrets or tokens counts towards the client address's limit, and a
// blocked address is refused without a look at the secret.
func (a *Authenticator) SessionLogin(ctx context.Context, req LoginRequest) (store.Session, string, error) {
	if blocked, err := a.Limiter.Blocked(ctx, req.Remote, ""); err != nil || blocked {
		return store.Session{}, "", cmpErr(err, refuse(CodeInvalidSession))
	}
	r, cookie, err := a.sessionLogin(ctx, req)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		if le.Code == CodeInvalidSession || le.Code == CodeTokenIncorrect {
			a.fail(ctx, req.Remote, "")
		}
		if r.ID == "" {
			user, _, _ := session.ParseLoginSecret(req.Secret)
			r = store.Session{Service: req.Service, User: user}
		}
		a.audit(ctx, audit.SessionLoginFailed, r, req.Secret, le.Code)
		return store.Session{}, "", err
	case err != nil:
		return store.Session{}, "", err
	}
	a.audit(ctx, audit.SessionLogin, r, req.Secret, "")
	return r, cookie, nil
}

// sessionLogin is SessionLogin without accounting and audit; on a
// *LoginError it returns the record it found (if any) for the audit.
func (a *Authenticator) sessionLogin(ctx context.Context, req LoginRequest) (store.Session, string, error) {
	if _, _, ok := session.ParseLoginSecret(req.Secret); !ok {
		return store.Session{}, "", refuse(CodeInvalidSession)
	}
	r, err := a.Sessions.ByLoginSecret(ctx, req.Secret)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, "", refuse(CodeInvalidSession)
	}
	if err != nil {
		return store.Session{}, "", err
	}
	now := a.Sessions.Clock()
	switch {
	case r.Consumed || r.Service != req.Service:
		return r, "", refuse(CodeInvalidSession)
	case r.Expired(now):
		return r, "", refuse(CodeExpiredSession)
	case subtle.ConstantTimeCompare([]byte(req.Token), []byte(r.Token)) != 1:
		return r, "", refuse(CodeTokenIncorrect)
	case !a.addressOK(r.Origin, req.Remote):
		return r, "", refuse(CodeChangedIP)
	}
	ok, err := a.LoginAllowed(ctx, r.Account, r.User)
	if err != nil {
		return store.Session{}, "", err
	}
	if !ok {
		return r, "", refuse(CodeInvalidLogin)
	}
	found := r
	r, cookie, err := a.Sessions.Redeem(ctx, r, now)
	switch {
	case errors.Is(err, store.ErrConsumed), errors.Is(err, store.ErrNotFound):
		return found, "", refuse(CodeInvalidSession)
	case errors.Is(err, store.ErrExpired):
		return found, "", refuse(CodeExpiredSession)
	case err != nil:
		return store.Session{}, "", err
	}
	return r, cookie, nil
}

// audit logs one login event about r; secret is fingerprinted.
func (a *Authenticator) audit(ctx context.Context, event string, r store.Session, secret, reason string) {
	if a.Audit == nil {
		return
	}
	e := audit.Event{Event: event, Service: r.Service, Actor: r.Creator, Method: r.Method,
		Target: r.User, SessionID: r.ID, Reason: reason}
	if secret != "" {
		e.SecretFP = audit.Fingerprint(secret)
	}
	a.Audit.Log(ctx, e)
}

// addressOK applies the address validation mode: the login must come
// from the session's origin (strict), from its /24 or /64 (loose), or from
// anywhere (disabled, or a session without an origin).
func (a *Authenticator) addressOK(origin string, remote netip.Addr) bool {
	if a.IPValidation == IPDisabled || origin == "" {
		return true
	}
	o, err := netip.ParseAddr(origin)
	if err != nil || !remote.IsValid() {
		return false
	}
	o, remote = o.Unmap(), remote.Unmap()
	if a.IPValidation == IPLoose {
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

// Cookie resolves a session cookie value plus the request's /cpsess…
// token to a logged-in session, records the use (idle timeout) and
// returns the caller it acts as. Refusals are *LoginError:
// CodeInvalidSession, CodeExpiredSession, CodeTokenMissing,
// CodeTokenIncorrect, and CodeInvalidLogin when the account is suspended
// or the mailbox's login is (the session is then returned too, so that a
// logout can still end it). The token is checked only after the cookie
// matched: it guards against cross-site requests, it never authenticates
// alone.
func (a *Authenticator) Cookie(ctx context.Context, req Request) (uapi.Caller, store.Session, error) {
	return a.cookie(ctx, req, true)
}

// CookieOnly is Cookie without the /cpsess… token: it resolves the
// session cookie alone. It serves the OAuth 2.0 authorization endpoint,
// which a browser reaches by a top-level navigation from another site (a
// Webmail client) that cannot know the token; such an endpoint must change
// nothing but issue a credential to a redirect URI registered in advance.
func (a *Authenticator) CookieOnly(ctx context.Context, req Request) (uapi.Caller, store.Session, error) {
	return a.cookie(ctx, req, false)
}

func (a *Authenticator) cookie(ctx context.Context, req Request, needToken bool) (uapi.Caller, store.Session, error) {
	if _, ok := session.ParseCookieSecret(req.Cookie); !ok {
		return uapi.Caller{}, store.Session{}, refuse(CodeInvalidSession)
	}
	r, err := a.Sessions.ByCookie(ctx, req.Cookie)
	if errors.Is(err, store.ErrNotFound) {
		return uapi.Caller{}, store.Session{}, refuse(CodeInvalidSession)
	}
	if err != nil {
		return uapi.Caller{}, store.Session{}, err
	}
	now := a.Sessions.Clock()
	switch {
	case r.Service != req.Service || !r.Consumed:
		return uapi.Caller{}, store.Session{}, refuse(CodeInvalidSession)
	case r.Expired(now):
		return uapi.Caller{}, store.Session{}, refuse(CodeExpiredSession)
	case needToken && req.Token == "":
		return uapi.Caller{}, store.Session{}, refuse(CodeTokenMissing)
	case needToken && subtle.ConstantTimeCompare([]byte(req.Token), []byte(r.Token)) != 1:
		return uapi.Caller{}, store.Session{}, refuse(CodeTokenIncorrect)
	}
	r, err = a.Sessions.Touch(ctx, r, now)
	switch {
	case errors.Is(err, store.ErrExpired):
		return uapi.Caller{}, store.Session{}, refuse(CodeExpiredSession)
	case errors.Is(err, store.ErrNotFound):
		return uapi.Caller{}, store.Session{}, refuse(CodeInvalidSession)
	case err != nil:
		return uapi.Caller{}, store.Session{}, err
	}
	ok, err := a.LoginAllowed(ctx, r.Account, r.User)
	if err != nil {
		return uapi.Caller{}, store.Session{}, err
	}
	if !ok {
		return uapi.Caller{}, r, refuse(CodeInvalidLogin)
	}
	c := uapi.Caller{
		User:       r.Account,
		Service:    req.Service,
		Method:     uapi.MethodSession,
		RemoteAddr: req.Remote,
		SessionID:  r.ID,
		Locale:     r.Locale,
	}
	if strings.Contains(r.User, "@") {
		c.Mailbox = r.User
	}
	if c.Locale == "" {
		c.Locale = "en"
	}
	return c, r, nil
}
