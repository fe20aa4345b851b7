// Package accounts is the account lifecycle of uapid, written once and
// used by the WHM functions, the UAPI functions and the `uapid` admin
// commands alike: creating, suspending, unsuspending and removing
// accounts, changing passwords, issuing, importing and revoking API
// tokens, adding and removing mailboxes. Each operation changes the directory through
// its create-only or update-in-transaction calls, ends the sessions it
// must (which drops their temporary database users through the session
// manager's end hook), and writes its audit event.
//
// Who may do what (a reseller manages only its own accounts) is decided
// by the callers, which know their caller; the rules that are about the
// data itself are here: a suspension that root locked can be touched only
// by root, and the sessions each change ends.
//
// Which sessions end, as cPanel does it:
//   - suspending or removing an account: every session of the account,
//     its mailboxes' included;
//   - changing an account's password: the account user's own sessions
//     (its mailboxes have their own passwords and keep theirs);
//   - changing root's password: root's sessions;
//   - suspending a mailbox's login, changing its password or removing it:
//     that mailbox's sessions;
//   - unsuspending, and issuing, importing or revoking API tokens, end
//     nothing.
package accounts

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/store"
)

// ErrLocked: the account's suspension was locked by root, and only root
// may change it.
var ErrLocked = errors.New("the suspension is locked by root")

// Sessions ends sessions; *session.Manager implements it (and, through
// its end hook, drops the temporary database users of the sessions it
// ends).
type Sessions interface {
	// EndAccount ends every session of account whose user is user (all of
	// the account's sessions when user is "") and returns how many ended.
	EndAccount(ctx context.Context, account, user, reason string) (int, error)
}

// Service runs the lifecycle over a directory.
type Service struct {
	Dir store.Directory
	// Packages keeps the hosting packages and ACL lists (nil: none).
	Packages store.Packages
	Sessions Sessions
	// Audit receives an event per change (nil: none).
	Audit *audit.Logger
	// Now returns the current time (tests override it).
	Now func() time.Time
}

// Actor is who asks for a change, for the audit trail and the root-lock
// rule: User is "root", a reseller's or an account's user; Method is the
// function or command ("createacct", "uapid account add", …). The admin
// commands act as root (User "root", Method "uapid …").
type Actor struct {
	User   string
	Method string
}

// Root reports whether the actor has root's rights.
func (a Actor) Root() bool { return a.User == store.RootUser }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log(ctx context.Context, event string, by Actor, target, reason string) {
	s.Audit.Log(ctx, audit.Event{Event: event, Actor: by.User, Method: by.Method, Target: target, Reason: reason})
}

// end ends sessions of account (of user only, when not "") for reason.
// The ending outlives the request: a cancelled request must not leave
// sessions running that its change ended.
func (s *Service) end(ctx context.Context, account, user, reason string) (int, error) {
	if s.Sessions == nil {
		return 0, nil
	}
	return s.Sessions.EndAccount(context.WithoutCancel(ctx), account, user, reason)
}

// ---- accounts ----

// Create creates the account a (CreatedAt now when zero). The store's
// uniqueness decides: store.ErrExists with Field "user" or "domain".
func (s *Service) Create(ctx context.Context, a store.Account, by Actor) (store.Account, error) {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	if err := s.Dir.CreateAccount(ctx, a); err != nil {
		return store.Account{}, err
	}
	a, err := s.Dir.GetAccount(ctx, a.User)
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.AccountCreate, by, a.User, "owner "+a.Owner)
	return a, nil
}

// Suspend suspends user with reason ("" is cPanel's "Unknown"); lock lets
// only root lift it. Suspending a suspended account updates the reason.
// It refuses (ErrLocked) to touch a suspension root locked unless by is
// root, and ends every session of the account.
func (s *Service) Suspend(ctx context.Context, user, reason string, lock bool, by Actor) (store.Account, int, error) {
	if reason == "" {
		reason = "Unknown"
	}
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		if a.Suspended && a.SuspendLocked && !by.Root() {
			return ErrLocked
		}
		a.Suspended, a.SuspendReason, a.SuspendedAt, a.SuspendLocked = true, reason, s.now(), lock
		return nil
	})
	if err != nil {
		return store.Account{}, 0, err
	}
	s.log(ctx, audit.AccountSuspend, by, a.User, reason)
	n, err := s.end(ctx, a.User, "", "account suspended")
	return a, n, err
}

// Unsuspend lifts user's suspension (nothing to do when it has none). It
// refuses (ErrLocked) a suspension root locked unless by is root.
func (s *Service) Unsuspend(ctx context.Context, user string, by Actor) (store.Account, error) {
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		if a.Suspended && a.SuspendLocked && !by.Root() {
			return ErrLocked
		}
		a.Suspended = false
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.AccountUnsuspend, by, a.User, "")
	return a, nil
}

// Remove removes user with its mailboxes and tokens. Its sessions end
// before (so that none acts on a half-removed account) and after (any
// that started meanwhile). A reseller that still owns accounts is refused
// (store.ErrInvalid).
func (s *Service) Remove(ctx context.Context, user string, by Actor) (int, error) {
	user = strings.ToLower(user)
	if _, err := s.Dir.GetAccount(ctx, user); err != nil {
		return 0, err
	}
	n, err := s.end(ctx, user, "", "account removed")
	if err != nil {
		return n, err
	}
	if err := s.Dir.RemoveAccount(ctx, user); err != nil {
		return n, err
	}
	s.log(ctx, audit.AccountRemove, by, user, "")
	m, err := s.end(ctx, user, "", "account removed")
	return n + m, err
}

// SetPassword sets the password hash of user (an account, or root) and
// ends that user's own sessions.
func (s *Service) SetPassword(ctx context.Context, user, hash string, by Actor) (int, error) {
	user = strings.ToLower(user)
	if user == store.RootUser {
		if err := s.Dir.SetRootPasswordHash(ctx, hash); err != nil {
			return 0, err
		}
	} else if _, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		a.PasswordHash = hash
		return nil
	}); err != nil {
		return 0, err
	}
	s.log(ctx, audit.AccountPassword, by, user, "")
	return s.end(ctx, user, user, "password changed")
}

// ---- API tokens ----

// IssueToken creates the API token name for user (root or an account)
// and returns it with its secret, shown only here. A name in use is
// store.ErrExists (Field "name"): a token is never replaced.
func (s *Service) IssueToken(ctx context.Context, user, name string, expires time.Time, allow []netip.Prefix, by Actor) (store.Token, string, error) {
	user = strings.ToLower(user)
	for attempt := 0; ; attempt++ {
		secret := auth.NewTokenSecret()
		t := store.Token{User: user, Name: name, Hash: auth.HashToken(secret), ExpiresAt: expires, AllowIPs: allow, CreatedAt: s.now()}
		err := s.Dir.CreateToken(ctx, t)
		if errors.Is(err, store.ErrExists) && store.FieldOf(err) == "hash" && attempt < 3 {
			continue // the same secret as another token: draw again
		}
		if err != nil {
			return store.Token{}, "", err
		}
		s.Audit.Log(ctx, audit.Event{Event: audit.TokenCreate, Actor: by.User, Method: by.Method,
			Target: user, SecretFP: audit.Fingerprint(secret), Reason: "name " + name})
		return t, secret, nil
	}
}

// ImportToken creates the API token t with the hash it comes with (the
// SHA-512 digest under which cPanel kept it, so that the secret cPanel
// issued keeps working), for an import. Like IssueToken it never replaces:
// a name in use is store.ErrExists with Field "name", a hash in use Field
// "hash". No secret is involved, so the audit event has no fingerprint.
func (s *Service) ImportToken(ctx context.Context, t store.Token, by Actor) (store.Token, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	t.User = strings.ToLower(t.User)
	if err := s.Dir.CreateToken(ctx, t); err != nil {
		return store.Token{}, err
	}
	s.Audit.Log(ctx, audit.Event{Event: audit.TokenCreate, Actor: by.User, Method: by.Method,
		Target: t.User, Reason: "name " + t.Name + " (imported)"})
	return t, nil
}

// RevokeToken revokes user's token name (store.ErrNotFound when there is
// none).
func (s *Service) RevokeToken(ctx context.Context, user, name string, by Actor) error {
	user = strings.ToLower(user)
	if err := s.Dir.RevokeToken(ctx, user, name); err != nil {
		return err
	}
	s.Audit.Log(ctx, audit.Event{Event: audit.TokenRevoke, Actor: by.User, Method: by.Method,
		Target: user, Reason: "name " + name})
	return nil
}

// TokenNameProblem returns why name cannot name an API token ("" if it
// can), in cPanel's words.
func TokenNameProblem(name string) string {
	if store.ValidTokenName(name) {
		return ""
	}
	return "The API token name “" + name + "” is not valid: use 1 to 50 letters, digits, dashes (-), and underscores (_)."
}

// ---- mailboxes ----

// AddMailbox creates the mailbox m (store.ErrExists with Field "address"
// when it exists).
func (s *Service) AddMailbox(ctx context.Context, m store.Mailbox, by Actor) error {
	if err := s.Dir.CreateMailbox(ctx, m); err != nil {
		return err
	}
	s.log(ctx, audit.MailboxCreate, by, strings.ToLower(m.Address), "")
	return nil
}

// RemoveMailbox removes the mailbox address and ends its sessions.
func (s *Service) RemoveMailbox(ctx context.Context, address string, by Actor) (int, error) {
	m, err := s.Dir.GetMailbox(ctx, address)
	if err != nil {
		return 0, err
	}
	if err := s.Dir.RemoveMailbox(ctx, m.Address); err != nil {
		return 0, err
	}
	s.log(ctx, audit.MailboxRemove, by, m.Address, "")
	return s.end(ctx, m.Account, m.Address, "mailbox removed")
}

// SetMailboxPassword sets the password hash of the mailbox address and
// ends its sessions.
func (s *Service) SetMailboxPassword(ctx context.Context, address, hash string, by Actor) (int, error) {
	m, err := s.Dir.UpdateMailbox(ctx, address, func(m *store.Mailbox) error {
		m.PasswordHash = hash
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.log(ctx, audit.MailboxPassword, by, m.Address, "")
	return s.end(ctx, m.Account, m.Address, "mailbox password changed")
}

// SetMailboxSuspended suspends (and ends the sessions of) or unsuspends
// the login of the mailbox address.
func (s *Service) SetMailboxSuspended(ctx context.Context, address string, suspended bool, by Actor) (int, error) {
	m, err := s.Dir.UpdateMailbox(ctx, address, func(m *store.Mailbox) error {
		m.SuspendedLogin = suspended
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !suspended {
		s.log(ctx, audit.MailboxUnsuspend, by, m.Address, "")
		return 0, nil
	}
	s.log(ctx, audit.MailboxSuspend, by, m.Address, "")
	return s.end(ctx, m.Account, m.Address, "mailbox login suspended")
}

// ---- password policy ----

// Password policy for new passwords of accounts and mailboxes. cPanel
// enforces a configurable strength score; uapid keeps a fixed,
// predictable minimum instead.
const (
	MinPasswordLength = 8    // characters
	MaxPasswordLength = 1024 // bytes; bounds the cost of hashing
)

// PasswordProblem returns why password may not be set as a new password,
// or "" when it is acceptable: valid UTF-8, at least MinPasswordLength
// characters and at most MaxPasswordLength bytes, no control characters.
// The text never contains the password.
func PasswordProblem(password string) string {
	switch {
	case !utf8.ValidString(password):
		return "The password must be valid UTF-8 text."
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return "The password is too weak: use at least " + strconv.Itoa(MinPasswordLength) + " characters."
	case len(password) > MaxPasswordLength:
		return "The password is too long: use at most " + strconv.Itoa(MaxPasswordLength) + " bytes."
	case strings.IndexFunc(password, unicode.IsControl) >= 0:
		return "The password must not contain control characters."
	}
	return ""
}
