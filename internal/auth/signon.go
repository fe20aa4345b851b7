package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/netip"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// PhpMyAdmin is the name of the resource server that may sign on to cPanel
// sessions: the phpMyAdmin sign-on script authenticates as it
// (--resource-servers phpmyadmin:SECRET_FILE). No other resource server
// may redeem a ticket or a handle.
const PhpMyAdmin = "phpmyadmin"

// ErrNotSignOnApp: the resource server authenticated, but it is not the
// one that may sign on (PhpMyAdmin).
var ErrNotSignOnApp = errors.New("this resource server may not sign on to sessions")

// SignOnRequest is an application's request to sign on to a browser's
// cPanel session: its own credential, and the one-time ticket the browser
// brought or the handle of an earlier sign-on.
type SignOnRequest struct {
	// Authorization is the application's Authorization header (HTTP
	// Basic of a configured resource server).
	Authorization string
	Remote        netip.Addr
	// Ticket, when not empty, is redeemed (spent whatever the outcome);
	// else Handle is checked.
	Ticket string
	Handle string
}

// SignOn decides an application's sign-on to a cPanel session (the
// phpMyAdmin sign-on): the application must authenticate as the resource
// server PhpMyAdmin (ResourceServer, with its brute-force accounting), and
// the ticket must be unspent and unexpired, or the handle the one of its
// session; the session must be a logged-in, unexpired cPanel session with
// a temporary database user, whose account may log in. A good sign-on
// counts as a use of the session (its idle timeout starts again), so that
// working in phpMyAdmin keeps the cPanel session alive up to its maximum
// age.
//
// Refusals: ErrDenied (bad or missing credentials of the application),
// ErrNotSignOnApp, and *LoginError with CodeInvalidSession (an unknown,
// malformed or spent ticket, a wrong handle, a session that is gone or is
// not a logged-in cPanel session), CodeExpiredSession (the ticket or the
// session expired) or CodeInvalidLogin (the account is suspended or gone).
// Tickets carry 128 random bits and reach this check only from an
// authenticated application, so a refused ticket or handle is not counted
// towards the brute-force limits (a user's stale link would otherwise
// count against the application's address). Any other error is a failure
// of a store.
func (a *Authenticator) SignOn(ctx context.Context, req SignOnRequest) (store.Session, error) {
	app, err := a.ResourceServer(ctx, req.Authorization, req.Remote)
	if err != nil {
		return store.Session{}, err
	}
	if app != PhpMyAdmin {
		return store.Session{}, ErrNotSignOnApp
	}
	if req.Ticket == "" {
		return a.signOnHandle(ctx, req.Handle)
	}
	r, err := a.signOnTicket(ctx, req.Ticket)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		a.audit(ctx, audit.SignOnRefused, r, req.Ticket, le.Code)
	case err == nil:
		e := audit.Event{Event: audit.SignOnRedeem, Service: r.Service, Actor: app, Method: "phpmyadmin_signon",
			Target: r.User, SessionID: r.ID, SecretFP: audit.Fingerprint(req.Ticket)}
		if a.Audit != nil {
			a.Audit.Log(ctx, e)
		}
	}
	return r, err
}

// signOnTicket spends the ticket and checks its session; on a
// *LoginError it returns the session it found (if any) for the audit.
func (a *Authenticator) signOnTicket(ctx context.Context, ticket string) (store.Session, error) {
	r, err := a.Sessions.TakeTicket(ctx, ticket)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, refuse(CodeInvalidSession)
	case errors.Is(err, store.ErrExpired):
		return store.Session{}, refuse(CodeExpiredSession)
	case err != nil:
		return store.Session{}, err
	}
	return a.signOnSession(ctx, r)
}

// signOnHandle checks a handle against its session.
func (a *Authenticator) signOnHandle(ctx context.Context, handle string) (store.Session, error) {
	id, ok := session.ParseSignOnHandle(handle)
	if !ok {
		return store.Session{}, refuse(CodeInvalidSession)
	}
	r, err := a.Sessions.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, refuse(CodeInvalidSession)
	}
	if err != nil {
		return store.Session{}, err
	}
	if r.TempPass == "" || subtle.ConstantTimeCompare([]byte(session.SignOnHandle(r)), []byte(handle)) != 1 {
		return store.Session{}, refuse(CodeInvalidSession)
	}
	return a.signOnSession(ctx, r)
}

// signOnSession checks that r may be signed on to now, and records the
// use.
func (a *Authenticator) signOnSession(ctx context.Context, r store.Session) (store.Session, error) {
	now := a.Sessions.Clock()
	switch {
	case r.Service != uapi.ServiceCPanel || !r.Consumed || r.TempUser == "":
		return r, refuse(CodeInvalidSession)
	case r.Expired(now):
		return r, refuse(CodeExpiredSession)
	}
	found := r
	r, err := a.Sessions.Touch(ctx, r, now)
	switch {
	case errors.Is(err, store.ErrExpired):
		return found, refuse(CodeExpiredSession)
	case errors.Is(err, store.ErrNotFound):
		return found, refuse(CodeInvalidSession)
	case err != nil:
		return store.Session{}, err
	}
	ok, err := a.LoginAllowed(ctx, r.Account, r.User)
	if err != nil {
		return store.Session{}, err
	}
	if !ok {
		return r, refuse(CodeInvalidLogin)
	}
	return r, nil
}
