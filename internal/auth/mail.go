package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// MailLogin is a password login of a mail client (IMAP, POP3, submission)
// that a mail server (Dovecot) asks uapid to decide, so that uapid stays
// the only place mailbox passwords live.
type MailLogin struct {
	// User is the login name as the client gave it: a mailbox address
	// "login@domain" or a cPanel account user (its default mailbox).
	User     string
	Password string
	// Client is the mail client's address as the mail server saw it
	// (invalid when the server did not say).
	Client netip.Addr
	// Protocol is the mail server's name for the service ("imap",
	// "pop3", …), for the audit trail.
	Protocol string
}

// MailPassword decides a mail client's password login (see MailLogin):
// the user must be allowed to log in (the account not suspended, the
// mailbox's login neither suspended nor locked) and the password right.
// It returns the user's canonical (lower-case) name, or ErrDenied for
// every refusal. Failures count towards the brute-force limits against
// the client's address and the user, as every password failure does, and
// a blocked client or user is refused without a check.
func (a *Authenticator) MailPassword(ctx context.Context, l MailLogin) (string, error) {
	key := strings.ToLower(l.User)
	ev := audit.Event{Event: audit.MailLogin, Service: uapi.ServiceWebmail, Actor: key, Target: key,
		Method: "mail:" + boundedName(l.Protocol)}
	if l.Client.IsValid() {
		ev.Client = l.Client.Unmap().String()
	}
	if !printable(l.User) || len(l.User) > 255 {
		a.fail(ctx, l.Client, "")
		ev.Event, ev.Actor, ev.Target, ev.Reason = audit.MailLoginFailed, "", "", "malformed user"
		a.Audit.Log(ctx, ev)
		return "", ErrDenied
	}
	if blocked, err := a.Limiter.Blocked(ctx, l.Client, key); err != nil || blocked {
		if err == nil {
			ev.Event, ev.Reason = audit.MailLoginFailed, "blocked"
			a.Audit.Log(ctx, ev)
		}
		return "", cmpErr(err, ErrDenied)
	}
	if _, err := a.password(ctx, uapi.ServiceWebmail, key, l.Password, l.Client); err != nil {
		if errors.Is(err, ErrDenied) {
			a.fail(ctx, l.Client, key)
			ev.Event, ev.Reason = audit.MailLoginFailed, "invalid_login"
			a.Audit.Log(ctx, ev)
		}
		return "", err
	}
	a.success(ctx, l.Client, key)
	a.Audit.Log(ctx, ev)
	return key, nil
}

// MailUser reports whether a mail server knows user as a recipient and
// login: a mailbox, or a cPanel account (its default mailbox). It says
// nothing about whether the user may log in (delivery goes on while a
// login is suspended); it returns the canonical (lower-case) name.
func (a *Authenticator) MailUser(ctx context.Context, user string) (string, bool, error) {
	user = strings.ToLower(user)
	if !printable(user) || len(user) > 255 {
		return "", false, nil
	}
	v, err := a.view(ctx)
	if err != nil {
		return "", false, err
	}
	if strings.Contains(user, "@") {
		_, err = v.mailbox(ctx, user)
	} else if user == store.RootUser {
		return "", false, nil
	} else {
		_, err = v.account(ctx, user)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return user, true, nil
}

// boundedName keeps a caller-supplied name short and printable for the
// audit trail.
func boundedName(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	if !printable(s) {
		return "?"
	}
	return s
}
