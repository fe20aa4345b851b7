package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store"
)

// Signing on to a third-party application (phpMyAdmin) from a cPanel
// session: the session issues a one-time ticket that the browser carries
// to the application; the application redeems it with uapid over a channel
// of its own and gets the session's temporary database user and a handle,
// which it presents on each later request to learn whether the session is
// still live. Whether a ticket or a handle is good is decided by package
// auth; this file makes them and keeps the tickets.

// DefaultTicketTTL is how long a sign-on ticket can be redeemed: long
// enough for a browser to follow a redirect, short enough that a ticket
// seen later (in a history, a log) is spent or dead.
const DefaultTicketTTL = time.Minute

// NewTicket returns a fresh sign-on ticket: 128 random bits as 32
// lower-case hex characters. It is a bearer credential: store only
// HashSecret of it and never log it.
func NewTicket() string { return newSecretHex() }

// ValidTicket reports whether t has the shape NewTicket produces.
func ValidTicket(t string) bool {
	if len(t) != secretHexLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// handleContext separates the handle's MAC from any other use of the key.
const handleContext = "uapid sign-on handle\x00"

// SignOnHandle returns the handle of the session r for an application
// signed on to it: "<session id>.<64 lower-case hex>", the hex being the
// HMAC-SHA256 of the id under the session's temporary database password.
// It is as strong a credential as that password (which the application
// holds anyway), dies with the session, and needs no storage. r must be a
// session with a temporary database user.
func SignOnHandle(r store.Session) string {
	m := hmac.New(sha256.New, []byte(r.TempPass))
	m.Write([]byte(handleContext + r.ID))
	return r.ID + "." + hex.EncodeToString(m.Sum(nil))
}

// ParseSignOnHandle checks that h has the shape SignOnHandle produces and
// returns its session id.
func ParseSignOnHandle(h string) (id string, ok bool) {
	id, mac, found := strings.Cut(h, ".")
	if !found || len(id) != idLen || len(mac) != 2*sha256.Size {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		// Session ids are lower-case base32: [a-z2-7].
		if c := id[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	if !ValidTicket(mac[:secretHexLen]) || !ValidTicket(mac[secretHexLen:]) {
		return "", false
	}
	return id, true
}

// IssueTicket issues a sign-on ticket bound to the session r (whether r
// may have one is the caller's decision) and returns it; it is valid for
// TicketTTL (DefaultTicketTTL when zero), never past the session's
// current expiry.
func (m *Manager) IssueTicket(ctx context.Context, r store.Session) (string, error) {
	if m.Tickets == nil {
		return "", errors.New("session: no ticket store")
	}
	ttl := m.TicketTTL
	if ttl <= 0 {
		ttl = DefaultTicketTTL
	}
	exp := m.Clock().Add(ttl)
	if r.ExpiresAt.Before(exp) {
		exp = r.ExpiresAt
	}
	for attempt := 0; ; attempt++ {
		t := NewTicket()
		err := m.Tickets.CreateTicket(ctx, store.Ticket{Hash: HashSecret(t), SessionID: r.ID, ExpiresAt: exp})
		if err == nil {
			m.audit(ctx, audit.SignOnTicket, r, t, "")
			return t, nil
		}
		// A collision of 128 random bits does not happen; a retry costs
		// nothing if it ever does.
		if !errors.Is(err, store.ErrExists) || attempt >= 2 {
			return "", fmt.Errorf("issue sign-on ticket: %w", err)
		}
	}
}

// TakeTicket redeems a sign-on ticket, at most once however many try,
// and returns the session it was issued in, as the store holds it now
// (expired included: the caller decides). Errors: store.ErrNotFound for
// an unknown, malformed or already redeemed ticket and for a session that
// is gone, store.ErrExpired for a ticket past its time.
func (m *Manager) TakeTicket(ctx context.Context, ticket string) (store.Session, error) {
	if !ValidTicket(ticket) || m.Tickets == nil {
		return store.Session{}, store.ErrNotFound
	}
	t, err := m.Tickets.TakeTicket(ctx, HashSecret(ticket), m.Clock())
	if err != nil {
		return store.Session{}, err
	}
	return m.Store.Get(ctx, t.SessionID)
}

// TempUsers creates temporary database users on the database servers
// (package tempdb, through the app, which also audits).
type TempUsers interface {
	// Configured reports whether any database server is configured.
	Configured() bool
	// Create makes the temporary user of r on every configured database
	// server, with the privileges of r.Account; via says what asked for
	// it (for the audit trail).
	Create(ctx context.Context, r store.Session, via string) error
}

// ErrNoTempDB: no database server is configured for temporary users.
var ErrNoTempDB = errors.New("no database server is configured for temporary users")

// CreateTempUser creates the temporary database user reserved for the
// session id, unless its record says it exists already: the one step that
// Session::create_temp_user and the phpMyAdmin sign-on share. The user is
// created on the database servers first and then marked in the record
// with a compare-and-swap, so that a failed creation leaves the session
// free to try again, and of several concurrent calls exactly one reports
// created. It returns the record as it now is.
//
// A session without a reserved user (not a cPanel session) or whose user
// exists answers created false and no error; a session that is gone
// answers store.ErrNotFound; with no database server, ErrNoTempDB. via
// names the caller for the audit trail.
func (m *Manager) CreateTempUser(ctx context.Context, id, via string) (r store.Session, created bool, err error) {
	r, err = m.Store.Get(ctx, id)
	if err != nil {
		return store.Session{}, false, err
	}
	if r.TempCreated || r.TempUser == "" {
		return r, false, nil
	}
	if m.TempUsers == nil || !m.TempUsers.Configured() {
		return store.Session{}, false, ErrNoTempDB
	}
	// Creation is idempotent for the session's reserved name, so two
	// concurrent calls both succeed and the compare-and-swap picks the one
	// that reports created.
	if err := m.TempUsers.Create(ctx, r, via); err != nil {
		return store.Session{}, false, err
	}
	created, err = m.Store.MarkTempCreated(ctx, r.ID)
	if err != nil {
		return store.Session{}, false, err
	}
	r.TempCreated = true
	return r, created, nil
}
