package store

import (
	"net/netip"
	"strconv"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// RootUser is the name of the WHM superuser. It is not an account.
const RootUser = "root"

// Account is a cPanel account, with what WHM remembers about it.
type Account struct {
	User         string   // [a-z][a-z0-9]{0,15}, never "root"
	PasswordHash string   // crypt(3) string; "" means no password login
	Domains      []string // lower-case; the first is the main domain; unique server-wide
	Locale       string   // e.g. "en"
	Owner        string   // "root" or the user of a reseller account
	Reseller     bool
	Databases    []string // names of the account's databases (e.g. "alice_wp")
	CreatedAt    time.Time

	// Plan is the hosting package the account was created with ("" is
	// cPanel's "default"); ContactEmail its contact address ("" when
	// none).
	Plan         string
	ContactEmail string

	// Suspended accounts cannot authenticate. SuspendReason, SuspendedAt
	// and SuspendLocked describe the suspension (all empty when the
	// account is not suspended; SuspendedAt is zero when unknown);
	// SuspendLocked means only root may lift it.
	Suspended     bool
	SuspendReason string
	SuspendedAt   time.Time
	SuspendLocked bool

	// Limits are the account's limits, set from its package by createacct
	// and changepackage and one by one by modifyacct.
	Limits Limits
	// ACLs are a reseller's privileges (WHM's ACL names such as
	// "create-acct"), sorted and unique; always empty for an account that
	// is not a reseller.
	ACLs []string
}

// Mailbox is an e-mail account owned by a cPanel account.
type Mailbox struct {
	Address        string // lower-case "local@domain"
	Account        string // owning cPanel account user
	PasswordHash   string // crypt(3) string
	SuspendedLogin bool
	// Quota is the mailbox's disk quota in bytes (0: unlimited). uapid
	// keeps it for what reads it (an import, the mail server); it does
	// not enforce it.
	Quota     int64
	CreatedAt time.Time
}

// Token is an API token. The secret is shown once at creation; only its
// hash is stored: the SHA-256 of the secret (tokens uapid issues) or its
// SHA-512 (tokens carried over from cPanel, which keeps those).
type Token struct {
	User      string         // account user or "root"
	Name      string         // unique per user
	Hash      []byte         // SHA-256 (32 bytes) or SHA-512 (64 bytes) of the secret
	ExpiresAt time.Time      // zero: never
	AllowIPs  []netip.Prefix // empty: any address
	CreatedAt time.Time
}

// Session is one session record. Every field is typed; nothing is stored
// as concatenated text.
//
// Stores keep the times at millisecond precision (truncated, as by
// time.Time.UnixMilli) and return them in UTC; expiry checks inside a
// store compare at that precision too, so they agree with Expired on the
// returned record. An empty LoginHash or CookieHash means "none" and comes
// back as nil.
type Session struct {
	// ID is the public identifier (shown by `uapid session list`, used by
	// `revoke --id`): time-ordered (session.NewID), unguessable, not a
	// secret.
	ID string
	// User is who the session logs in: a cPanel account user, "root", or a
	// lower-case mailbox address for Webmail sessions of a mailbox.
	User string
	// Account is the cPanel account the session belongs to (the mailbox's
	// owner for mailbox sessions; "root" for root). Ending an account's
	// sessions goes by this field.
	Account string
	// Service is "cpaneld", "webmaild" or "whostmgrd".
	Service string
	// Token is the security token including its slash: "/cpsess0123456789".
	Token string
	// LoginHash is the hash of the one-time login session string. It stays
	// set after the login; Consumed says whether it was used.
	LoginHash []byte
	// Consumed is true once the login secret has been used.
	Consumed bool
	// CookieHash is the hash of the current cookie value; nil until login.
	CookieHash []byte
	// Creator is who asked for the session (account user or "root").
	Creator string
	// Method is how it was created, e.g. "create_webmail_session_for_mail_user",
	// "create_user_session", "password".
	Method string
	// Origin is the client address logins must come from (text form; ""
	// when unknown).
	Origin string
	Locale string
	// ReturnURL is where the Webmail client returns on logout ("" when none).
	ReturnURL string
	// TempUser and TempPass are the temporary database user reserved for
	// this session ("" for non-cPanel sessions); TempCreated says whether
	// it exists on the database server.
	TempUser    string
	TempPass    string
	TempCreated bool

	CreatedAt time.Time
	LastUsed  time.Time
	// ExpiresAt is when the record stops being valid. Before login it is
	// the login deadline; after login it moves with each use (idle
	// timeout) but never past the absolute cap.
	ExpiresAt time.Time
}

// Expired reports whether the record is expired at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// TempUser is one entry of the temporary-user ledger: a temporary database
// user recorded before it is created on any database server. Its password
// is never stored.
type TempUser struct {
	Name      string
	Account   string
	SessionID string
}

// Attempt kinds: failures are counted per client address and per user.
const (
	AttemptIP   = "ip"
	AttemptUser = "user"
)

// AttemptKey names what failed attempts are counted against: a client
// address (Kind AttemptIP, Value its text form) or a user (AttemptUser).
type AttemptKey struct {
	Kind  string
	Value string
}

// AttemptState is what a store knows of one key.
type AttemptState struct {
	// Failures within the window (Attempts.Failure only).
	Failures int
	// BlockedUntil is when the key's last block ends (zero: never
	// blocked, or forgotten).
	BlockedUntil time.Time
	// Strikes is how many times the key was blocked (while remembered).
	Strikes int
}

// Limit is one numeric limit of a hosting package or an account (disk
// quota and bandwidth in megabytes, or a count such as MAXPOP). Its zero
// value is "unlimited"; LimitOf makes a finite one.
type Limit struct {
	N       int64 // the limit when Limited
	Limited bool
}

// LimitOf returns the finite limit n (n >= 0).
func LimitOf(n int64) Limit { return Limit{N: n, Limited: true} }

// Unlimited is no limit (the zero Limit).
var Unlimited = Limit{}

// Allows reports whether count more of a thing fit: always for an
// unlimited limit, else count < N.
func (l Limit) Allows(count int64) bool { return !l.Limited || count < l.N }

// String is cPanel's form of the limit: "unlimited" or the number.
func (l Limit) String() string {
	if !l.Limited {
		return "unlimited"
	}
	return itoa(l.N)
}

// Limits are what a hosting package sets for an account, with cPanel's
// package keys in the comments. uapid enforces MaxPOP (Email::add_pop)
// and records the rest.
type Limits struct {
	Quota               Limit // QUOTA, megabytes of disk
	BWLimit             Limit // BWLIMIT, megabytes a month
	MaxFTP              Limit // MAXFTP
	MaxSQL              Limit // MAXSQL
	MaxPOP              Limit // MAXPOP, mailboxes
	MaxLists            Limit // MAXLST
	MaxSub              Limit // MAXSUB
	MaxPark             Limit // MAXPARK
	MaxAddon            Limit // MAXADDON
	MaxPassengerApps    Limit // MAXPASSENGERAPPS
	MaxEmailAcctQuota   Limit // MAX_EMAILACCT_QUOTA, megabytes
	MaxEmailPerHour     Limit // MAX_EMAIL_PER_HOUR
	MaxDeferFailPercent Limit // MAX_DEFER_FAIL_PERCENTAGE
	MaxTeamUsers        Limit // MAX_TEAM_USERS

	CGI         bool   // CGI
	HasShell    bool   // HASSHELL
	DedicatedIP bool   // IP
	DigestAuth  bool   // DIGESTAUTH
	FeatureList string // FEATURELIST ("" is "default")
	Theme       string // CPMOD ("" is "jupiter")
}

// Package is a hosting package (plan): a named set of limits that
// createacct and changepackage apply to accounts.
type Package struct {
	// Name is unique on the server. A reseller's packages are named
	// "<reseller>_<name>", as cPanel names them.
	Name string
	// Owner is "root" or the reseller who made it.
	Owner  string
	Limits Limits
	// Language is the package's LANG ("" is "en").
	Language  string
	CreatedAt time.Time
}

// ACLList is a named list of reseller privileges (WHM's saveacllist),
// which setacls copies onto a reseller.
type ACLList struct {
	Name string
	ACLs []string // sorted, unique
}

// Rename names what RenameAccount changes besides the account's other
// fields: its user name and its main domain ("" keeps either).
type Rename struct {
	User   string
	Domain string
}

// OAuth 2.0 token kinds (OAuthToken.Kind).
const (
	// OAuthAccess is an access token: the credential a client presents to
	// a resource server (Dovecot) as "Bearer".
	OAuthAccess = "access"
	// OAuthRefresh is a refresh token: it only gets the client new access
	// tokens for the same session, at the token endpoint.
	OAuthRefresh = "refresh"
)

// OAuthCode is an OAuth 2.0 authorization code (RFC 6749 §4.1): uapid
// issues it to a client after a logged-in session approved the request,
// and the client exchanges it once for tokens. Only the code's hash is
// stored. Times are kept at millisecond precision, as for sessions.
type OAuthCode struct {
	// Hash is the SHA-256 of the code (SessionHashLen bytes).
	Hash []byte
	// SessionID is the session that approved the request.
	SessionID string
	// ClientID is the client the code was issued to.
	ClientID string
	// RedirectURI is the redirect_uri of the authorization request, ""
	// when the request had none.
	RedirectURI string
	// Challenge is the PKCE code_challenge (method S256), "" when none.
	Challenge string
	// Used is true once the code was exchanged.
	Used      bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether the code is expired at now.
func (c *OAuthCode) Expired(now time.Time) bool { return !now.Before(c.ExpiresAt) }

// OAuthToken is an access or refresh token issued for an authorization
// code. It is bound to the session the code came from and never outlives
// it; only its hash is stored.
type OAuthToken struct {
	// Hash is the SHA-256 of the token (SessionHashLen bytes).
	Hash []byte
	// Kind is OAuthAccess or OAuthRefresh.
	Kind      string
	SessionID string
	ClientID  string
	// Grant is the Hash of the authorization code the token descends
	// from, so that a replayed code can revoke what it issued.
	Grant     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether the token is expired at now.
func (t *OAuthToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }
