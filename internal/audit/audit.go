// Package audit writes uapid's audit trail: one JSON object per line for
// every security-relevant event (sessions created, logged in, ended; temporary
// database users created and dropped; API tokens created and revoked;
// accounts and mailboxes created, suspended, unsuspended, removed and given
// new passwords; sign-on tickets issued, redeemed and refused; brute-force
// blocks; mail clients' password logins; OAuth codes and tokens issued,
// refused and revoked). Each record names who did what to whom, from where
// and with which client, and identifies a secret only by a fingerprint (the
// first 12 hex digits of its SHA-256), never by the secret itself.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Event names.
const (
	SessionCreate      = "session.create"
	SessionLogin       = "session.login"
	SessionLoginFailed = "session.login_failed"
	SessionLogout      = "session.logout"
	SessionExpire      = "session.expire"
	SessionRevoke      = "session.revoke"
	TempUserCreate     = "tempuser.create"
	TempUserDrop       = "tempuser.drop"
	TokenCreate        = "token.create"
	TokenRevoke        = "token.revoke"
	BruteforceBlock    = "bruteforce.block"
	AccountCreate      = "account.create"
	AccountSuspend     = "account.suspend"
	AccountUnsuspend   = "account.unsuspend"
	AccountRemove      = "account.remove"
	AccountPassword    = "account.password"
	AccountModify      = "account.modify"
	AccountPackage     = "account.package"
	ResellerSetup      = "reseller.setup"
	ResellerUnsetup    = "reseller.unsetup"
	ResellerACLs       = "reseller.acls"
	PackageCreate      = "package.create"
	PackageEdit        = "package.edit"
	PackageRemove      = "package.remove"
	ACLListSave        = "acllist.save"
	MailboxCreate      = "mailbox.create"
	MailboxRemove      = "mailbox.remove"
	MailboxPassword    = "mailbox.password"
	MailboxSuspend     = "mailbox.suspend"
	MailboxUnsuspend   = "mailbox.unsuspend"
	// A mail client's password login decided for a mail server (Dovecot).
	MailLogin       = "mail.login"
	MailLoginFailed = "mail.login_failed"
	// OAuth 2.0: a code issued, tokens issued for a code or a refresh
	// token, a refused token request, a token revoked.
	OAuthCode        = "oauth.code"
	OAuthToken       = "oauth.token"
	OAuthTokenFailed = "oauth.token_failed"
	OAuthRevoke      = "oauth.revoke"
	// phpMyAdmin's sign-on: a ticket issued, redeemed, refused.
	SignOnTicket  = "signon.ticket"
	SignOnRedeem  = "signon.redeem"
	SignOnRefused = "signon.refused"
)

// Event is one audit record. Empty fields are left out.
type Event struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Service   string    `json:"service,omitempty"`
	Actor     string    `json:"actor,omitempty"`  // who acted (account, "root", mailbox)
	Method    string    `json:"method,omitempty"` // how (API function, "password", "cli", …)
	Target    string    `json:"target,omitempty"` // whom it concerns
	Client    string    `json:"client,omitempty"` // client address
	UserAgent string    `json:"user_agent,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	// SecretFP is Fingerprint of the secret involved (session string,
	// cookie, token, temporary user name).
	SecretFP string `json:"secret_fp,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Fingerprint identifies a secret without revealing it: the first 12 hex
// digits of its SHA-256.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:6])
}

// Logger writes events. A nil *Logger discards them.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer // nil: events only go to Hook
	close func() error
	now   func() time.Time
	// Hook, if set, sees every event (metrics count them); it must be
	// quick and safe for concurrent use.
	Hook func(Event)
}

// Open returns a logger for dest: "" or "off" (events reach only the
// Hook), "stdout", "stderr", or a file path (appended to, created 0600).
func Open(dest string) (*Logger, error) {
	switch dest {
	case "", "off":
		return New(nil), nil
	case "stdout":
		return New(os.Stdout), nil
	case "stderr":
		return New(os.Stderr), nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open audit log: %v", err)
	}
	l := New(f)
	l.close = f.Close
	return l, nil
}

// New returns a logger writing to w (nil: nowhere).
func New(w io.Writer) *Logger { return &Logger{w: w, now: time.Now} }

// Close closes the file Open opened.
func (l *Logger) Close() error {
	if l == nil || l.close == nil {
		return nil
	}
	return l.close()
}

// Log writes e, filling the time and, from ctx, the request's client
// address, user agent and service when e leaves them empty.
func (l *Logger) Log(ctx context.Context, e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	if ri, ok := ctx.Value(reqKey{}).(Request); ok {
		if e.Client == "" {
			e.Client = ri.Client
		}
		if e.UserAgent == "" {
			e.UserAgent = ri.UserAgent
		}
		if e.Service == "" {
			e.Service = ri.Service
		}
	}
	if l.Hook != nil {
		l.Hook(e)
	}
	if l.w == nil {
		return
	}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(line)
}

// Request is what the HTTP layer knows about the request an event happens
// in.
type Request struct {
	Client, UserAgent, Service string
}

type reqKey struct{}

// WithRequest attaches request details to ctx for the events logged in it.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, reqKey{}, r)
}
