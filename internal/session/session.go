// Package session is uapid's session model: the typed session record, the
// generation of tokens and secrets, and the Store contract that every backend
// (memory, SQLite, and later PostgreSQL and Redis) must honour. The contract is
// proved for each backend by the shared suite in package sessiontest.
//
// Secrets never enter a Store: a login session string and a cookie value are
// kept only as their SHA-256 hashes (see HashSecret), and lookups go by hash.
package session

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no record with that id or hash.
	ErrNotFound = errors.New("session: not found")
	// ErrConsumed: the login secret was already used (or the session is
	// already logged in).
	ErrConsumed = errors.New("session: already used")
	// ErrExpired: the record exists but its expiry has passed.
	ErrExpired = errors.New("session: expired")
	// ErrExists: a record with the same id, login hash, cookie hash or token
	// exists.
	ErrExists = errors.New("session: already exists")
	// ErrInvalid: the record or argument cannot be stored: an empty ID or
	// Token, a hash that is neither empty nor 32 bytes (HashSecret), or a text
	// field longer than MaxFieldLen bytes.
	ErrInvalid = errors.New("session: invalid record")
)

// MaxFieldLen is the longest text field (ID, User, ReturnURL, …) a Store
// accepts.
const MaxFieldLen = 8192

// Record is one session. Every field is typed; nothing is stored as
// concatenated text.
//
// Stores keep the times at millisecond precision (truncated, as by
// time.Time.UnixMilli) and return them in UTC; expiry checks inside a store
// compare at that precision too, so they agree with Record.Expired on the
// returned record. An empty LoginHash or CookieHash means "none" and comes
// back as nil.
type Record struct {
	// ID is the public identifier (shown by `uapid session list`, used by
	// `revoke --id`). It is random and is not a secret.
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
	// LoginHash is HashSecret of the one-time login session string. It stays
	// set after the login; Consumed says whether it was used.
	LoginHash []byte
	// Consumed is true once the login secret has been used.
	Consumed bool
	// CookieHash is HashSecret of the current cookie value; nil until login.
	CookieHash []byte
	// Creator is who asked for the session (account user or "root").
	Creator string
	// Method is how it was created, e.g. "create_webmail_session_for_mail_user",
	// "create_user_session", "password".
	Method string
	// Origin is the client address logins must come from (text form; "" when
	// unknown).
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
	// ExpiresAt is when the record stops being valid. Before login it is the
	// login deadline; after login it moves with each use (idle timeout) but
	// never past the absolute cap.
	ExpiresAt time.Time
}

// Expired reports whether the record is expired at now.
func (r *Record) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// Store keeps session records. Implementations must be safe for concurrent
// use by many goroutines and, for shared backends, many processes.
//
// Guarantees every implementation gives (proved by sessiontest.Run):
//   - Create is atomic; it fails with ErrExists if the ID, Token, LoginHash or
//     CookieHash is already present (empty hashes are never "present"), and
//     never overwrites. It refuses malformed records with ErrInvalid.
//   - Lookups (Get, ByLoginHash, ByCookieHash) return expired records too, so
//     that callers can tell "expired" from "unknown"; they return ErrNotFound
//     only for records that are absent (never created, deleted or swept).
//   - Consume succeeds for exactly one caller per record, however many race:
//     it is a compare-and-swap on Consumed.
//   - Delete, DeleteByAccount and Sweep return the records they removed, so
//     that the caller can release what hangs off them (temporary DB users);
//     a record is returned by at most one of them.
//   - Returned records are copies: changing them changes nothing stored.
type Store interface {
	// Create stores a new record.
	Create(ctx context.Context, r Record) error
	// Get returns the record with this ID.
	Get(ctx context.Context, id string) (Record, error)
	// ByLoginHash returns the record whose LoginHash equals h.
	ByLoginHash(ctx context.Context, h []byte) (Record, error)
	// ByCookieHash returns the record whose CookieHash equals h.
	ByCookieHash(ctx context.Context, h []byte) (Record, error)
	// Consume marks the login of record id as used, if and only if it is not
	// yet consumed and not expired at now; it sets CookieHash to cookieHash,
	// LastUsed to now and ExpiresAt to expires, and returns the updated
	// record. Errors: ErrNotFound, ErrConsumed (reported before ErrExpired
	// when both apply), ErrExpired, ErrExists (cookieHash belongs to another
	// record), ErrInvalid (cookieHash neither empty nor 32 bytes).
	Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (Record, error)
	// Touch records a use at now and moves ExpiresAt to expires, if the
	// record exists and is not expired at now (ErrNotFound, ErrExpired).
	Touch(ctx context.Context, id string, now, expires time.Time) error
	// MarkTempCreated sets TempCreated if it was false and reports whether
	// this call changed it (compare-and-swap).
	MarkTempCreated(ctx context.Context, id string) (bool, error)
	// Delete removes one record and returns it (ErrNotFound if absent).
	Delete(ctx context.Context, id string) (Record, error)
	// DeleteByAccount removes every record whose Account is account, and, if
	// user is not empty, only those whose User is user as well.
	DeleteByAccount(ctx context.Context, account, user string) ([]Record, error)
	// List returns the records of account ("" for all), expired included,
	// oldest first (by CreatedAt, then ID).
	List(ctx context.Context, account string) ([]Record, error)
	// Sweep removes and returns the records expired at now, at most limit of
	// them (limit <= 0: no limit).
	Sweep(ctx context.Context, now time.Time, limit int) ([]Record, error)
	// Close releases the store's resources (not a *sql.DB or client that
	// was handed to the store's constructor: its owner closes that).
	Close() error
}
