package store

import (
	"context"
	"time"
)

// Directory holds who exists on the server: root's password, cPanel
// accounts, their mailboxes and API tokens. It stores password hashes
// (crypt strings) and token hashes, never the secrets themselves.
//
// Rules every backend applies (see the package comment for the general
// guarantees): records are normalised and checked with NormalizeAccount,
// NormalizeMailbox and NormalizeToken; an account's owner is root, itself
// (a reseller only) or an existing reseller; a reseller that owns other
// accounts can be neither removed nor demoted; a domain that has mailboxes
// cannot be taken from its account; a mailbox's domain is one of its
// account's domains; a token's user is root or an account. A call that
// finds nothing to change succeeds without moving the generation.
type Directory interface {
	// RootPasswordHash returns root's crypt string ("" when unset: no
	// password login for root).
	RootPasswordHash(ctx context.Context) (string, error)
	SetRootPasswordHash(ctx context.Context, hash string) error

	// GetAccount returns ErrNotFound for an unknown user.
	GetAccount(ctx context.Context, user string) (Account, error)
	// ListAccounts returns every account, sorted by user.
	ListAccounts(ctx context.Context) ([]Account, error)
	// CreateAccount creates a new account: ErrExists when the user exists
	// or one of its domains belongs to another account. CreatedAt is now
	// when zero.
	CreateAccount(ctx context.Context, a Account) error
	// UpdateAccount runs fn on the stored account inside the store's
	// transaction and stores what fn leaves (the user cannot change;
	// CreatedAt is kept). An error from fn aborts and is returned as it
	// is. It returns the account as stored.
	UpdateAccount(ctx context.Context, user string, fn func(*Account) error) (Account, error)
	// PutAccount creates the account or replaces every field of the
	// existing one but CreatedAt (fixtures only).
	PutAccount(ctx context.Context, a Account) error
	// RemoveAccount removes the account with its domains, databases,
	// mailboxes and tokens.
	RemoveAccount(ctx context.Context, user string) error
	// RenameAccount renames account user to to.User and/or moves its main
	// domain to to.Domain ("" keeps either), then runs fn on the renamed
	// account, all in one transaction: ErrExists (Field "user" or
	// "domain") when the new name is taken, and nothing changes when any
	// step fails. A new user name moves the account's domains,
	// databases (their "<user>_" prefix renamed), mailboxes, tokens, the
	// accounts it owns and its packages (their "<user>_" prefix renamed,
	// with the plans of the accounts that use them); a new main domain
	// replaces the first domain and moves that domain's mailboxes to it.
	// Sessions are not the directory's: the caller ends them.
	RenameAccount(ctx context.Context, user string, to Rename, fn func(*Account) error) (Account, error)
	// DomainOwner returns the account user owning domain, or ErrNotFound.
	DomainOwner(ctx context.Context, domain string) (string, error)

	// GetMailbox returns ErrNotFound for an unknown address.
	GetMailbox(ctx context.Context, address string) (Mailbox, error)
	// ListMailboxes lists the mailboxes of one account ("" lists all),
	// sorted by address; ErrNotFound for an unknown account.
	ListMailboxes(ctx context.Context, account string) ([]Mailbox, error)
	// CreateMailbox creates a mailbox: ErrExists when the address exists,
	// ErrNotFound when the account does not, ErrInvalid when its domain
	// is not the account's, and ErrInvalid with Field "maxpop" when the
	// account already has as many mailboxes as its Limits.MaxPOP allows
	// (counted inside the creation, so racing creations cannot pass it).
	// An empty Account means the domain's owner.
	CreateMailbox(ctx context.Context, m Mailbox) error
	// UpdateMailbox runs fn on the stored mailbox inside the store's
	// transaction and stores its password hash, login suspension and
	// quota (address and account cannot change).
	UpdateMailbox(ctx context.Context, address string, fn func(*Mailbox) error) (Mailbox, error)
	// PutMailbox creates or replaces a mailbox (fixtures only).
	PutMailbox(ctx context.Context, m Mailbox) error
	RemoveMailbox(ctx context.Context, address string) error

	// CreateToken creates a token: ErrExists when the user has a token of
	// that name (or with that hash), ErrNotFound when the user is neither
	// root nor an account.
	CreateToken(ctx context.Context, t Token) error
	// PutToken creates or replaces the token (User, Name) (fixtures only).
	PutToken(ctx context.Context, t Token) error
	// ListTokens lists the tokens of user ("" for everyone's), sorted by
	// user and name; ErrNotFound for an unknown user.
	ListTokens(ctx context.Context, user string) ([]Token, error)
	RevokeToken(ctx context.Context, user, name string) error
	// TokenByHash returns the token of user whose Hash equals hash, or
	// ErrNotFound. Expiry and address checks are the caller's.
	TokenByHash(ctx context.Context, user string, hash []byte) (Token, error)

	// Generation returns a number that changes whenever anything in the
	// directory changes. Caches compare it to invalidate at once.
	Generation(ctx context.Context) (int64, error)
}

// Packages holds the hosting packages and the named reseller ACL lists.
// Backends that implement it keep it in the same store (and transactions)
// as their Directory: removing a reseller removes its packages, renaming
// one renames them.
type Packages interface {
	// CreatePackage creates p (normalised with NormalizePackage):
	// ErrExists when the name is taken, ErrInvalid when the owner is
	// neither root nor a reseller.
	CreatePackage(ctx context.Context, p Package) error
	// GetPackage returns ErrNotFound for an unknown name.
	GetPackage(ctx context.Context, name string) (Package, error)
	// ListPackages returns every package, sorted by name.
	ListPackages(ctx context.Context) ([]Package, error)
	// UpdatePackage runs fn on the stored package inside the store's
	// transaction and stores what it leaves (name, owner and CreatedAt
	// cannot change).
	UpdatePackage(ctx context.Context, name string, fn func(*Package) error) (Package, error)
	// RemovePackage removes the package; accounts keep its name as their
	// plan and the limits it gave them.
	RemovePackage(ctx context.Context, name string) error

	// PutACLList creates or replaces the named list (normalised with
	// NormalizeACLList).
	PutACLList(ctx context.Context, l ACLList) error
	// ListACLLists returns every list, sorted by name.
	ListACLLists(ctx context.Context) ([]ACLList, error)
}

// Sessions keeps session records. Implementations are safe for concurrent
// use by many goroutines and, for shared backends, many processes.
//
// Guarantees:
//   - Create is atomic; it fails with ErrExists if the ID, LoginHash or
//     CookieHash is already present (empty hashes are never "present"),
//     and never overwrites. The Token is not a key: it is a guard checked
//     against the record found by a hash (a store may refuse a token that
//     another record has, but need not). It refuses malformed records with ErrInvalid
//     (ValidateSession).
//   - Lookups (Get, ByLoginHash, ByCookieHash) return expired records too,
//     so that callers can tell "expired" from "unknown"; they return
//     ErrNotFound only for records that are absent.
//   - Consume succeeds for exactly one caller per record, however many
//     race: it is a compare-and-swap on Consumed.
//   - Delete, DeleteByAccount and Sweep return the records they removed,
//     so that the caller can release what hangs off them (temporary
//     database users); a record is returned by at most one of them.
//   - Returned records are copies.
//   - A networked store that loses the answer to a change it made reports
//     ErrUnavailable although the change happened; records removed that
//     way are not returned, and what hangs off them (temporary database
//     users) is left to the temporary-user sweep.
type Sessions interface {
	Create(ctx context.Context, r Session) error
	Get(ctx context.Context, id string) (Session, error)
	ByLoginHash(ctx context.Context, h []byte) (Session, error)
	ByCookieHash(ctx context.Context, h []byte) (Session, error)
	// Consume marks the login of record id as used, if and only if it is
	// not yet consumed and not expired at now; it sets CookieHash to
	// cookieHash, LastUsed to now and ExpiresAt to expires, and returns
	// the updated record. Errors: ErrNotFound, ErrConsumed (reported
	// before ErrExpired when both apply), ErrExpired, ErrExists
	// (cookieHash belongs to another record), ErrInvalid.
	Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (Session, error)
	// Touch records a use at now and moves ExpiresAt to expires, if the
	// record exists and is not expired at now (ErrNotFound, ErrExpired).
	Touch(ctx context.Context, id string, now, expires time.Time) error
	// MarkTempCreated sets TempCreated if it was false and reports whether
	// this call changed it (compare-and-swap).
	MarkTempCreated(ctx context.Context, id string) (bool, error)
	// Delete removes one record and returns it (ErrNotFound if absent).
	Delete(ctx context.Context, id string) (Session, error)
	// DeleteByAccount removes every record whose Account is account (""
	// matches only records without an account, which uapid never makes),
	// and, if user is not empty, only those whose User is user as well.
	DeleteByAccount(ctx context.Context, account, user string) ([]Session, error)
	// List returns the records of account ("" for all), expired included,
	// oldest first (by CreatedAt, then ID).
	List(ctx context.Context, account string) ([]Session, error)
	// Sweep removes and returns the records expired at now, at most limit
	// of them (limit <= 0: no limit).
	Sweep(ctx context.Context, now time.Time, limit int) ([]Session, error)
}

// Ledger records temporary database users before they are created on any
// database server, so that a crash leaks none.
type Ledger interface {
	// RecordTempUser stores the entry. Recording a name again for the same
	// session and account is a no-op; for another session it fails with
	// ErrExists.
	RecordTempUser(ctx context.Context, u TempUser) error
	// RemoveTempUser forgets name (no error if absent).
	RemoveTempUser(ctx context.Context, name string) error
	// GetTempUser returns the entry of name, or ErrNotFound.
	GetTempUser(ctx context.Context, name string) (TempUser, error)
	// ListTempUsers returns every entry, oldest first.
	ListTempUsers(ctx context.Context) ([]TempUser, error)
}

// Attempts keeps the brute-force counters: failed attempts per key within
// a sliding window, blocks with their strike counts, and the addresses a
// user recently logged in from. The policy (limits, ban times) is the
// caller's; a store only offers these atomic steps, so that on a shared
// store the counts of every node add up.
//
// Keys have Kind AttemptIP or AttemptUser and any text Value. Times are
// kept at millisecond precision. A cancelled context is returned as it is;
// a deadline that passes while the store's server does not answer is
// ErrUnavailable.
type Attempts interface {
	// Failure records a failed attempt of key at now, forgets the key's
	// failures at or before now-window and its block if that block's
	// forget time is at or before now, and returns the key's state after
	// that (Failures includes this one), in one atomic step.
	Failure(ctx context.Context, key AttemptKey, now time.Time, window time.Duration) (AttemptState, error)
	// Block blocks key until until, sets its strikes to strikes+1 and
	// forgets its failures, if and only if its strikes are still strikes
	// (compare-and-swap: of several nodes that see the limit crossed at
	// once, one blocks). It reports whether it did. forget, after until,
	// is when the key's state may be dropped.
	Block(ctx context.Context, key AttemptKey, strikes int, until, forget time.Time) (bool, error)
	// BlockedUntil returns, for each key, when its current block ends:
	// zero when it is not blocked at now.
	BlockedUntil(ctx context.Context, keys []AttemptKey, now time.Time) ([]time.Time, error)
	// Trust records that addr logged in as user: until until (the last
	// call wins), addr is exempt from user's block.
	Trust(ctx context.Context, user, addr string, until time.Time) error
	// Trusted reports whether addr is exempt from user's block at now.
	Trusted(ctx context.Context, user, addr string, now time.Time) (bool, error)
	// Sweep drops, exactly, what no longer matters at now: failures at or
	// before now-keep, blocks whose forget time is at or before now (their
	// strikes start again at 0), and trusts that ended at or before now.
	// Stores that also expire state by themselves must still give this.
	Sweep(ctx context.Context, now time.Time, keep time.Duration) error
}

// OAuth keeps what uapid issues as an OAuth 2.0 authorization server:
// authorization codes and access and refresh tokens. Each hangs off a
// session and lives in the same store as the sessions (so a Redis session
// store holds them too); only their SHA-256 hashes are stored, and lookups
// go by hash. Whether a token is still good (its session lives, its
// mailbox may log in) is decided by package auth/oauth, which reads the
// session for every use, so ending a session makes its tokens inactive at
// once even before DeleteOAuthTokens removes them.
//
// Guarantees (beyond the package's general ones):
//   - CreateOAuthCode and CreateOAuthToken are create-only: ErrExists when
//     the hash is present, ErrInvalid for a malformed record
//     (ValidateOAuthCode, ValidateOAuthToken).
//   - ConsumeOAuthCode succeeds for exactly one caller per code, however
//     many race, on any node: it is a compare-and-swap on Used.
//   - Lookups return expired records too; Sweep removes them.
//   - Times are kept at millisecond precision and returned in UTC.
type OAuth interface {
	CreateOAuthCode(ctx context.Context, c OAuthCode) error
	// ConsumeOAuthCode marks the code whose hash is h as used, if and only
	// if it is not used yet and not expired at now, and returns it (Used
	// set). Errors: ErrNotFound, ErrConsumed (reported before ErrExpired
	// when both apply), ErrExpired.
	ConsumeOAuthCode(ctx context.Context, h []byte, now time.Time) (OAuthCode, error)
	CreateOAuthToken(ctx context.Context, t OAuthToken) error
	// OAuthTokenByHash returns the token whose hash is h, or ErrNotFound.
	OAuthTokenByHash(ctx context.Context, h []byte) (OAuthToken, error)
	// DeleteOAuthTokens removes every code and token of the sessions
	// (one step for many: the expiry sweep ends sessions by the hundred)
	// and returns how many tokens it removed.
	DeleteOAuthTokens(ctx context.Context, sessionIDs ...string) (int, error)
	// DeleteOAuthGrant removes every token whose Grant is grant (what one
	// authorization code issued) and returns how many.
	DeleteOAuthGrant(ctx context.Context, grant []byte) (int, error)
	// SweepOAuth removes the codes and tokens expired at now, at most
	// limit of them (limit <= 0: no limit), and returns how many.
	SweepOAuth(ctx context.Context, now time.Time, limit int) (int, error)
}
