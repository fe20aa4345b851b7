// Package directory holds who exists on the server: root, cPanel accounts
// (owner, reseller flag, domains, locale, suspension, databases), their
// mailboxes and API tokens. It stores password hashes (crypt strings) and token
// hashes, never the secrets themselves.
//
// Directory is the one interface every backend implements; the embedded
// SQLite implementation lives in this package (NewSQLite).
package directory

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// RootUser is the name of the WHM superuser. It is not an account.
const RootUser = "root"

var (
	// ErrNotFound: no such account, mailbox, domain or token.
	ErrNotFound = errors.New("directory: not found")
	// ErrExists: the name (account user, domain, mailbox, token name) is taken.
	ErrExists = errors.New("directory: already exists")
	// ErrInvalid wraps validation failures; the message says what is wrong.
	ErrInvalid = errors.New("directory: invalid")
)

// Account is a cPanel account.
type Account struct {
	User         string   // [a-z][a-z0-9]{0,15}, never "root"
	PasswordHash string   // crypt(3) string
	Domains      []string // lower-case; the first is the main domain; unique server-wide
	Locale       string   // e.g. "en"
	Owner        string   // "root" or the user of a reseller account
	Reseller     bool
	Suspended    bool
	Databases    []string // names of the account's databases (e.g. "alice_wp")
	CreatedAt    time.Time
}

// Mailbox is an e-mail account owned by a cPanel account.
type Mailbox struct {
	Address        string // lower-case "local@domain"
	Account        string // owning cPanel account user
	PasswordHash   string // crypt(3) string
	SuspendedLogin bool
	CreatedAt      time.Time
}

// Token is an API token. The secret is shown once at creation; only its hash
// is stored.
type Token struct {
	User      string         // account user or "root"
	Name      string         // unique per user
	Hash      []byte         // SHA-256 of the 32-character secret
	ExpiresAt time.Time      // zero: never
	AllowIPs  []netip.Prefix // empty: any address
	CreatedAt time.Time
}

// Directory is the account directory. Implementations must be safe for
// concurrent use and must make every method atomic: a failed call changes
// nothing. Names are compared in their lower-case form; implementations store
// users, domains and addresses lower-cased.
//
// Further guarantees every backend gives (the SQLite one documents them in
// detail on its methods): inputs are checked with the Valid* functions of
// this package, failures wrap ErrInvalid, ErrExists or ErrNotFound with a
// message that names the offending value (never a secret or hash); a call
// that finds nothing to change (a Put of what is stored, a Set to the current
// value) succeeds without moving the generation; ListMailboxes and
// ListTokens with "" list everything and give ErrNotFound for an unknown
// account; a reseller that still owns other accounts can be neither removed
// nor demoted (ErrInvalid).
type Directory interface {
	// RootPasswordHash returns root's crypt string ("" when unset: no
	// password login for root).
	RootPasswordHash(ctx context.Context) (string, error)
	SetRootPasswordHash(ctx context.Context, hash string) error

	// GetAccount returns ErrNotFound for an unknown user.
	GetAccount(ctx context.Context, user string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	// PutAccount creates or replaces the account with this user (all fields,
	// domains and databases included; CreatedAt is kept on replace). A domain
	// owned by another account gives ErrExists.
	PutAccount(ctx context.Context, a Account) error
	SetAccountSuspended(ctx context.Context, user string, suspended bool) error
	SetAccountPasswordHash(ctx context.Context, user, hash string) error
	// RemoveAccount removes the account with its mailboxes and tokens.
	RemoveAccount(ctx context.Context, user string) error
	// DomainOwner returns the account user owning domain, or ErrNotFound.
	DomainOwner(ctx context.Context, domain string) (string, error)

	// GetMailbox returns ErrNotFound for an unknown address.
	GetMailbox(ctx context.Context, address string) (Mailbox, error)
	// ListMailboxes lists the mailboxes of one account ("" lists all).
	ListMailboxes(ctx context.Context, account string) ([]Mailbox, error)
	// PutMailbox creates or replaces a mailbox. Its domain must be one of the
	// owning account's domains (ErrInvalid otherwise).
	PutMailbox(ctx context.Context, m Mailbox) error
	SetMailboxSuspendedLogin(ctx context.Context, address string, suspended bool) error
	SetMailboxPasswordHash(ctx context.Context, address, hash string) error
	RemoveMailbox(ctx context.Context, address string) error

	// PutToken creates or replaces the token (User, Name).
	PutToken(ctx context.Context, t Token) error
	ListTokens(ctx context.Context, user string) ([]Token, error)
	RevokeToken(ctx context.Context, user, name string) error
	// TokenByHash returns the token of user whose Hash equals hash, or
	// ErrNotFound. Expiry and address checks are the caller's job.
	TokenByHash(ctx context.Context, user string, hash []byte) (Token, error)

	// Generation returns a number that changes whenever any credential or
	// suspension state changes (passwords, suspensions, removals, tokens).
	// Caches of verified credentials compare it to invalidate at once.
	Generation(ctx context.Context) (int64, error)

	Close() error
}
