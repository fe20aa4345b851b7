package directory

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/sqlite"
)

// SQLite is the Directory kept in uapid's embedded SQLite database. It shares
// its *sql.DB with the session store; several processes (the server and the
// CLI) may use the same file at once. Every change runs in one immediate
// (write-locked) transaction, which also increments the generation counter
// when something actually changed, so a call that finds nothing to change
// leaves the generation alone.
type SQLite struct {
	db *sql.DB
}

var _ Directory = (*SQLite)(nil)

// migrations are the schema steps of component "directory". Tables carry a
// "directory_" prefix because the session store lives in the same file.
var migrations = []sqlite.Migration{{
	Version: 1,
	SQL: `
CREATE TABLE directory_state (
	id                 INTEGER PRIMARY KEY CHECK (id = 1),
	root_password_hash TEXT    NOT NULL DEFAULT '',
	generation         INTEGER NOT NULL DEFAULT 1
);
INSERT INTO directory_state (id) VALUES (1);

CREATE TABLE directory_accounts (
	user          TEXT    PRIMARY KEY,
	password_hash TEXT    NOT NULL,
	locale        TEXT    NOT NULL,
	owner         TEXT    NOT NULL,
	reseller      INTEGER NOT NULL,
	suspended     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE INDEX directory_accounts_owner ON directory_accounts (owner);

CREATE TABLE directory_domains (
	domain   TEXT    PRIMARY KEY,
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	position INTEGER NOT NULL
);
CREATE INDEX directory_domains_account ON directory_domains (account);

CREATE TABLE directory_databases (
	account  TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (account, name)
);

CREATE TABLE directory_mailboxes (
	address         TEXT    PRIMARY KEY,
	account         TEXT    NOT NULL REFERENCES directory_accounts (user) ON DELETE CASCADE,
	domain          TEXT    NOT NULL,
	password_hash   TEXT    NOT NULL,
	suspended_login INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX directory_mailboxes_account ON directory_mailboxes (account);
CREATE INDEX directory_mailboxes_domain ON directory_mailboxes (domain);

CREATE TABLE directory_tokens (
	user       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	hash       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL,
	allow_ips  TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user, name),
	UNIQUE (user, hash)
);
`,
}}

// NewSQLite returns the directory stored in db, applying its schema
// migrations (component "directory"). db should come from sqlite.Open, whose
// settings (immediate transactions, busy timeout, WAL) make concurrent use by
// several processes safe. Close does not close db: its opener does.
func NewSQLite(ctx context.Context, db *sql.DB) (*SQLite, error) {
	if err := sqlite.Migrate(ctx, db, "directory", migrations); err != nil {
		return nil, err
	}
	return &SQLite{db: db}, nil
}

// Close implements Directory. It does nothing: the *sql.DB is shared with the
// session store and belongs to whoever opened it.
func (s *SQLite) Close() error { return nil }

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// write runs fn in one write transaction. When fn reports a change, the
// generation is incremented in the same transaction. A failing fn changes
// nothing.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) (changed bool, err error)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("directory: begin: %w", err)
	}
	defer tx.Rollback()
	changed, err := fn(tx)
	if err != nil {
		return err
	}
	if !changed {
		return nil // the rollback releases the lock; nothing was written
	}
	if _, err := tx.ExecContext(ctx, `UPDATE directory_state SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("directory: bump generation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("directory: commit: %w", err)
	}
	return nil
}

// read runs fn in one read-only transaction, so that several queries see
// one snapshot.
func (s *SQLite) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("directory: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

func dbErr(op string, err error) error {
	return fmt.Errorf("directory: %s: %w", op, err)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func timeToDB(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeFromDB(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ---- root ----

// RootPasswordHash implements Directory.
func (s *SQLite) RootPasswordHash(ctx context.Context) (string, error) {
	var h string
	if err := s.db.QueryRowContext(ctx, `SELECT root_password_hash FROM directory_state WHERE id = 1`).Scan(&h); err != nil {
		return "", dbErr("root password", err)
	}
	return h, nil
}

// SetRootPasswordHash implements Directory. "" removes root's password.
func (s *SQLite) SetRootPasswordHash(ctx context.Context, hash string) error {
	if !ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the root password hash is not a valid crypt string", ErrInvalid)
	}
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `UPDATE directory_state SET root_password_hash = ? WHERE id = 1 AND root_password_hash != ?`, hash, hash)
		if err != nil {
			return false, dbErr("set root password", err)
		}
		n, err := res.RowsAffected()
		return n > 0, err
	})
}

// Generation implements Directory. It starts at 1 and grows by one with every
// committed change.
func (s *SQLite) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := s.db.QueryRowContext(ctx, `SELECT generation FROM directory_state WHERE id = 1`).Scan(&g); err != nil {
		return 0, dbErr("generation", err)
	}
	return g, nil
}

// ---- accounts ----

const accountCols = `user, password_hash, locale, owner, reseller, suspended, created_at`

func scanAccount(sc interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var reseller, suspended int
	var created int64
	err := sc.Scan(&a.User, &a.PasswordHash, &a.Locale, &a.Owner, &reseller, &suspended, &created)
	a.Reseller, a.Suspended, a.CreatedAt = reseller != 0, suspended != 0, timeFromDB(created)
	return a, err
}

// loadAccount reads one account with its domains and databases; found is
// false when there is none.
func loadAccount(ctx context.Context, q queryer, user string) (a Account, found bool, err error) {
	a, err = scanAccount(q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM directory_accounts WHERE user = ?`, user))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, dbErr("get account", err)
	}
	if a.Domains, err = strings1(ctx, q, `SELECT domain FROM directory_domains WHERE account = ? ORDER BY position`, user); err != nil {
		return Account{}, false, dbErr("get account domains", err)
	}
	if a.Databases, err = strings1(ctx, q, `SELECT name FROM directory_databases WHERE account = ? ORDER BY position`, user); err != nil {
		return Account{}, false, dbErr("get account databases", err)
	}
	return a, true, nil
}

// strings1 runs a query returning one text column.
func strings1(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func accountExists(ctx context.Context, q queryer, user string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_accounts WHERE user = ?`, user).Scan(&n)
	return n > 0, err
}

// GetAccount implements Directory.
func (s *SQLite) GetAccount(ctx context.Context, user string) (Account, error) {
	user = strings.ToLower(user)
	var a Account
	err := s.read(ctx, func(tx *sql.Tx) error {
		var found bool
		var err error
		a, found, err = loadAccount(ctx, tx, user)
		if err == nil && !found {
			err = fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, user)
		}
		return err
	})
	return a, err
}

// ListAccounts implements Directory. Accounts come sorted by user.
func (s *SQLite) ListAccounts(ctx context.Context) ([]Account, error) {
	var out []Account
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+accountCols+` FROM directory_accounts ORDER BY user`)
		if err != nil {
			return dbErr("list accounts", err)
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return dbErr("list accounts", err)
			}
			idx[a.User] = len(out)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return dbErr("list accounts", err)
		}
		rows.Close()
		for _, part := range []struct {
			query string
			set   func(a *Account, v string)
		}{
			{`SELECT account, domain FROM directory_domains ORDER BY account, position`, func(a *Account, v string) { a.Domains = append(a.Domains, v) }},
			{`SELECT account, name FROM directory_databases ORDER BY account, position`, func(a *Account, v string) { a.Databases = append(a.Databases, v) }},
		} {
			rows, err := tx.QueryContext(ctx, part.query)
			if err != nil {
				return dbErr("list accounts", err)
			}
			for rows.Next() {
				var user, v string
				if err := rows.Scan(&user, &v); err != nil {
					rows.Close()
					return dbErr("list accounts", err)
				}
				if i, ok := idx[user]; ok {
					part.set(&out[i], v)
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return dbErr("list accounts", err)
			}
		}
		return nil
	})
	return out, err
}

// normalizeAccount lower-cases and checks a, filling the defaults (locale
// "en", owner "root"). It checks everything that needs no database.
func normalizeAccount(a Account) (Account, error) {
	a.User = strings.ToLower(a.User)
	switch {
	case a.User == RootUser:
		return a, fmt.Errorf("%w: “root” is the superuser and cannot be an account", ErrInvalid)
	case !ValidUser(a.User):
		return a, fmt.Errorf("%w: “%s” is not a valid user name (a lower-case letter followed by up to 15 lower-case letters or digits)", ErrInvalid, a.User)
	}
	if !ValidPasswordHash(a.PasswordHash) {
		return a, fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", ErrInvalid, a.User)
	}
	if a.Locale == "" {
		a.Locale = "en"
	}
	if !ValidLocale(a.Locale) {
		return a, fmt.Errorf("%w: “%s” is not a valid locale name", ErrInvalid, a.Locale)
	}
	a.Owner = strings.ToLower(a.Owner)
	if a.Owner == "" {
		a.Owner = RootUser
	}
	if a.Owner == a.User && !a.Reseller {
		return a, fmt.Errorf("%w: account “%s” can only own itself if it is a reseller", ErrInvalid, a.User)
	}
	domains := make([]string, 0, len(a.Domains))
	for _, d := range a.Domains {
		d = strings.ToLower(d)
		if !ValidDomain(d) {
			return a, fmt.Errorf("%w: “%s” is not a valid domain name", ErrInvalid, d)
		}
		if slices.Contains(domains, d) {
			return a, fmt.Errorf("%w: domain “%s” is listed twice", ErrInvalid, d)
		}
		domains = append(domains, d)
	}
	a.Domains = domains
	dbs := make([]string, 0, len(a.Databases))
	for _, db := range a.Databases {
		if !ValidDatabaseName(a.User, db) {
			return a, fmt.Errorf("%w: “%s” is not a valid database name for “%s” (lower-case letters, digits and “_”, at most 64 characters, starting with “%s_”)", ErrInvalid, db, a.User, a.User)
		}
		if slices.Contains(dbs, db) {
			return a, fmt.Errorf("%w: database “%s” is listed twice", ErrInvalid, db)
		}
		dbs = append(dbs, db)
	}
	a.Databases = dbs
	return a, nil
}

// sameAccount compares everything PutAccount stores except CreatedAt.
func sameAccount(a, b Account) bool {
	return a.User == b.User && a.PasswordHash == b.PasswordHash && a.Locale == b.Locale &&
		a.Owner == b.Owner && a.Reseller == b.Reseller && a.Suspended == b.Suspended &&
		slices.Equal(a.Domains, b.Domains) && slices.Equal(a.Databases, b.Databases)
}

// ownedAccounts lists the accounts owned by user other than user itself.
func ownedAccounts(ctx context.Context, q queryer, user string) ([]string, error) {
	return strings1(ctx, q, `SELECT user FROM directory_accounts WHERE owner = ? AND user != ? ORDER BY user`, user, user)
}

func listNames(names []string) string {
	const max = 5
	quoted := make([]string, 0, max+1)
	for i, n := range names {
		if i == max {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		quoted = append(quoted, "“"+n+"”")
	}
	return strings.Join(quoted, ", ")
}

// PutAccount implements Directory. Besides the interface's rules: the owner
// must be "root" or an existing reseller (a reseller may own itself); a
// reseller that owns other accounts cannot stop being a reseller; a domain
// that still has mailboxes cannot be dropped (ErrInvalid); an empty Locale
// becomes "en" and an empty Owner "root". A new account gets CreatedAt as
// given, or now when it is zero. Storing exactly what is there already
// changes nothing (the generation stays).
func (s *SQLite) PutAccount(ctx context.Context, a Account) error {
	a, err := normalizeAccount(a)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		old, exists, err := loadAccount(ctx, tx, a.User)
		if err != nil {
			return false, err
		}
		if a.Owner != RootUser && a.Owner != a.User {
			owner, found, err := loadAccount(ctx, tx, a.Owner)
			if err != nil {
				return false, err
			}
			if !found {
				return false, fmt.Errorf("%w: owner “%s” does not exist", ErrInvalid, a.Owner)
			}
			if !owner.Reseller {
				return false, fmt.Errorf("%w: owner “%s” is not a reseller", ErrInvalid, a.Owner)
			}
		}
		if exists && old.Reseller && !a.Reseller {
			owned, err := ownedAccounts(ctx, tx, a.User)
			if err != nil {
				return false, dbErr("put account", err)
			}
			if len(owned) > 0 {
				return false, fmt.Errorf("%w: “%s” cannot stop being a reseller while it owns accounts (%s)", ErrInvalid, a.User, listNames(owned))
			}
		}
		for _, d := range a.Domains {
			var owner string
			err := tx.QueryRowContext(ctx, `SELECT account FROM directory_domains WHERE domain = ?`, d).Scan(&owner)
			if err == nil && owner != a.User {
				return false, fmt.Errorf("%w: domain “%s” belongs to another account", ErrExists, d)
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return false, dbErr("put account", err)
			}
		}
		for _, d := range old.Domains {
			if slices.Contains(a.Domains, d) {
				continue
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_mailboxes WHERE domain = ?`, d).Scan(&n); err != nil {
				return false, dbErr("put account", err)
			}
			if n > 0 {
				return false, fmt.Errorf("%w: domain “%s” cannot be removed from “%s” while it has mailboxes", ErrInvalid, d, a.User)
			}
		}
		if exists && sameAccount(old, a) {
			return false, nil
		}
		created := a.CreatedAt
		if exists {
			created = old.CreatedAt
		} else if created.IsZero() {
			created = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (user) DO UPDATE SET password_hash = excluded.password_hash, locale = excluded.locale,
				owner = excluded.owner, reseller = excluded.reseller, suspended = excluded.suspended`,
			a.User, a.PasswordHash, a.Locale, a.Owner, b2i(a.Reseller), b2i(a.Suspended), timeToDB(created)); err != nil {
			return false, dbErr("put account", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_domains WHERE account = ?`, a.User); err != nil {
			return false, dbErr("put account", err)
		}
		for i, d := range a.Domains {
			if _, err := tx.ExecContext(ctx, `INSERT INTO directory_domains (domain, account, position) VALUES (?, ?, ?)`, d, a.User, i); err != nil {
				return false, dbErr("put account", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_databases WHERE account = ?`, a.User); err != nil {
			return false, dbErr("put account", err)
		}
		for i, db := range a.Databases {
			if _, err := tx.ExecContext(ctx, `INSERT INTO directory_databases (account, name, position) VALUES (?, ?, ?)`, a.User, db, i); err != nil {
				return false, dbErr("put account", err)
			}
		}
		return true, nil
	})
}

// updateOne runs an UPDATE that changes at most one row of table identified
// by key; it returns ErrNotFound (with notFound's text) when the row does not
// exist, and changes nothing when the row already has the value.
func (s *SQLite) updateOne(ctx context.Context, update, exists string, notFound error, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return false, dbErr("update", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, dbErr("update", err)
		}
		if n > 0 {
			return true, nil
		}
		var c int
		if err := tx.QueryRowContext(ctx, exists, args[len(args)-1]).Scan(&c); err != nil {
			return false, dbErr("update", err)
		}
		if c == 0 {
			return false, notFound
		}
		return false, nil
	})
}

// SetAccountSuspended implements Directory.
func (s *SQLite) SetAccountSuspended(ctx context.Context, user string, suspended bool) error {
	user = strings.ToLower(user)
	v := b2i(suspended)
	return s.updateOne(ctx,
		`UPDATE directory_accounts SET suspended = ? WHERE suspended != ? AND user = ?`,
		`SELECT COUNT(*) FROM directory_accounts WHERE user = ?`,
		fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, user),
		v, v, user)
}

// SetAccountPasswordHash implements Directory.
func (s *SQLite) SetAccountPasswordHash(ctx context.Context, user, hash string) error {
	user = strings.ToLower(user)
	if !ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", ErrInvalid, user)
	}
	return s.updateOne(ctx,
		`UPDATE directory_accounts SET password_hash = ? WHERE password_hash != ? AND user = ?`,
		`SELECT COUNT(*) FROM directory_accounts WHERE user = ?`,
		fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, user),
		hash, hash, user)
}

// RemoveAccount implements Directory: the account goes with its domains,
// databases, mailboxes and tokens. A reseller that still owns other accounts
// cannot be removed (ErrInvalid).
func (s *SQLite) RemoveAccount(ctx context.Context, user string) error {
	user = strings.ToLower(user)
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		ok, err := accountExists(ctx, tx, user)
		if err != nil {
			return false, dbErr("remove account", err)
		}
		if !ok {
			return false, fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, user)
		}
		owned, err := ownedAccounts(ctx, tx, user)
		if err != nil {
			return false, dbErr("remove account", err)
		}
		if len(owned) > 0 {
			return false, fmt.Errorf("%w: reseller “%s” still owns accounts (%s); remove them or give them another owner first", ErrInvalid, user, listNames(owned))
		}
		for _, q := range []string{
			`DELETE FROM directory_tokens WHERE user = ?`,
			`DELETE FROM directory_mailboxes WHERE account = ?`,
			`DELETE FROM directory_domains WHERE account = ?`,
			`DELETE FROM directory_databases WHERE account = ?`,
			`DELETE FROM directory_accounts WHERE user = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, user); err != nil {
				return false, dbErr("remove account", err)
			}
		}
		return true, nil
	})
}

// DomainOwner implements Directory.
func (s *SQLite) DomainOwner(ctx context.Context, domain string) (string, error) {
	domain = strings.ToLower(domain)
	var user string
	err := s.db.QueryRowContext(ctx, `SELECT account FROM directory_domains WHERE domain = ?`, domain).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: domain “%s” does not belong to any account", ErrNotFound, domain)
	}
	if err != nil {
		return "", dbErr("domain owner", err)
	}
	return user, nil
}

// ---- mailboxes ----

const mailboxCols = `address, account, password_hash, suspended_login, created_at`

func scanMailbox(sc interface{ Scan(...any) error }) (Mailbox, error) {
	var m Mailbox
	var susp int
	var created int64
	err := sc.Scan(&m.Address, &m.Account, &m.PasswordHash, &susp, &created)
	m.SuspendedLogin, m.CreatedAt = susp != 0, timeFromDB(created)
	return m, err
}

// GetMailbox implements Directory.
func (s *SQLite) GetMailbox(ctx context.Context, address string) (Mailbox, error) {
	address = strings.ToLower(address)
	m, err := scanMailbox(s.db.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE address = ?`, address))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, fmt.Errorf("%w: mailbox “%s” does not exist", ErrNotFound, address)
	}
	if err != nil {
		return Mailbox{}, dbErr("get mailbox", err)
	}
	return m, nil
}

// ListMailboxes implements Directory. Mailboxes come sorted by address. An
// unknown account gives ErrNotFound.
func (s *SQLite) ListMailboxes(ctx context.Context, account string) ([]Mailbox, error) {
	account = strings.ToLower(account)
	var out []Mailbox
	err := s.read(ctx, func(tx *sql.Tx) error {
		query, args := `SELECT `+mailboxCols+` FROM directory_mailboxes ORDER BY address`, []any{}
		if account != "" {
			ok, err := accountExists(ctx, tx, account)
			if err != nil {
				return dbErr("list mailboxes", err)
			}
			if !ok {
				return fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, account)
			}
			query, args = `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE account = ? ORDER BY address`, []any{account}
		}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return dbErr("list mailboxes", err)
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMailbox(rows)
			if err != nil {
				return dbErr("list mailboxes", err)
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// PutMailbox implements Directory. An empty Account means the account that
// owns the address's domain. The account must exist (ErrNotFound) and own the
// domain (ErrInvalid). CreatedAt is kept on replace (and set to now when
// zero on create); storing what is there already changes nothing.
func (s *SQLite) PutMailbox(ctx context.Context, m Mailbox) error {
	m.Address = strings.ToLower(m.Address)
	m.Account = strings.ToLower(m.Account)
	local, domain, ok := SplitAddress(m.Address)
	if !ok || !ValidLocalPart(local) || !ValidDomain(domain) {
		return fmt.Errorf("%w: “%s” is not a valid mailbox address", ErrInvalid, m.Address)
	}
	if !ValidPasswordHash(m.PasswordHash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", ErrInvalid, m.Address)
	}
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT account FROM directory_domains WHERE domain = ?`, domain).Scan(&owner)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, dbErr("put mailbox", err)
		}
		if m.Account == "" {
			if owner == "" {
				return false, fmt.Errorf("%w: domain “%s” does not belong to any account", ErrInvalid, domain)
			}
			m.Account = owner
		}
		exists, err := accountExists(ctx, tx, m.Account)
		if err != nil {
			return false, dbErr("put mailbox", err)
		}
		if !exists {
			return false, fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, m.Account)
		}
		if owner != m.Account {
			return false, fmt.Errorf("%w: domain “%s” is not a domain of account “%s”", ErrInvalid, domain, m.Account)
		}
		old, err := scanMailbox(tx.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE address = ?`, m.Address))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, dbErr("put mailbox", err)
		}
		if found && old.Account == m.Account && old.PasswordHash == m.PasswordHash && old.SuspendedLogin == m.SuspendedLogin {
			return false, nil
		}
		created := m.CreatedAt
		if found {
			created = old.CreatedAt
		} else if created.IsZero() {
			created = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_mailboxes (address, account, domain, password_hash, suspended_login, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (address) DO UPDATE SET account = excluded.account, domain = excluded.domain,
				password_hash = excluded.password_hash, suspended_login = excluded.suspended_login`,
			m.Address, m.Account, domain, m.PasswordHash, b2i(m.SuspendedLogin), timeToDB(created)); err != nil {
			return false, dbErr("put mailbox", err)
		}
		return true, nil
	})
}

// SetMailboxSuspendedLogin implements Directory.
func (s *SQLite) SetMailboxSuspendedLogin(ctx context.Context, address string, suspended bool) error {
	address = strings.ToLower(address)
	v := b2i(suspended)
	return s.updateOne(ctx,
		`UPDATE directory_mailboxes SET suspended_login = ? WHERE suspended_login != ? AND address = ?`,
		`SELECT COUNT(*) FROM directory_mailboxes WHERE address = ?`,
		fmt.Errorf("%w: mailbox “%s” does not exist", ErrNotFound, address),
		v, v, address)
}

// SetMailboxPasswordHash implements Directory.
func (s *SQLite) SetMailboxPasswordHash(ctx context.Context, address, hash string) error {
	address = strings.ToLower(address)
	if !ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", ErrInvalid, address)
	}
	return s.updateOne(ctx,
		`UPDATE directory_mailboxes SET password_hash = ? WHERE password_hash != ? AND address = ?`,
		`SELECT COUNT(*) FROM directory_mailboxes WHERE address = ?`,
		fmt.Errorf("%w: mailbox “%s” does not exist", ErrNotFound, address),
		hash, hash, address)
}

// RemoveMailbox implements Directory.
func (s *SQLite) RemoveMailbox(ctx context.Context, address string) error {
	address = strings.ToLower(address)
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM directory_mailboxes WHERE address = ?`, address)
		if err != nil {
			return false, dbErr("remove mailbox", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, dbErr("remove mailbox", err)
		}
		if n == 0 {
			return false, fmt.Errorf("%w: mailbox “%s” does not exist", ErrNotFound, address)
		}
		return true, nil
	})
}

// ---- tokens ----

const tokenCols = `user, name, hash, expires_at, allow_ips, created_at`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var exp, created int64
	var allow string
	if err := sc.Scan(&t.User, &t.Name, &t.Hash, &exp, &allow, &created); err != nil {
		return Token{}, err
	}
	t.ExpiresAt, t.CreatedAt = timeFromDB(exp), timeFromDB(created)
	var err error
	if t.AllowIPs, err = parsePrefixes(allow); err != nil {
		return Token{}, err
	}
	return t, nil
}

func formatPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]netip.Prefix, len(parts))
	for i, p := range parts {
		var err error
		if out[i], err = netip.ParsePrefix(p); err != nil {
			return nil, fmt.Errorf("stored allow-list: %w", err)
		}
	}
	return out, nil
}

// tokenUserExists reports whether user may hold tokens: root or an account.
func tokenUserExists(ctx context.Context, q queryer, user string) (bool, error) {
	if user == RootUser {
		return true, nil
	}
	return accountExists(ctx, q, user)
}

// PutToken implements Directory. User must be "root" or an existing account
// (ErrNotFound); Name must pass ValidTokenName and Hash be a SHA-256
// (ErrInvalid); another token of the same user with the same hash gives
// ErrExists. CreatedAt is kept on replace (and set to now when zero on
// create); storing what is there already changes nothing.
func (s *SQLite) PutToken(ctx context.Context, t Token) error {
	t.User = strings.ToLower(t.User)
	if !ValidTokenName(t.Name) {
		return fmt.Errorf("%w: “%s” is not a valid token name (1 to 50 letters, digits, “_” or “-”)", ErrInvalid, t.Name)
	}
	if len(t.Hash) != 32 {
		return fmt.Errorf("%w: the hash of token “%s” is not a SHA-256", ErrInvalid, t.Name)
	}
	for _, p := range t.AllowIPs {
		if !p.IsValid() {
			return fmt.Errorf("%w: token “%s” has an invalid address prefix in its allow-list", ErrInvalid, t.Name)
		}
	}
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		ok, err := tokenUserExists(ctx, tx, t.User)
		if err != nil {
			return false, dbErr("put token", err)
		}
		if !ok {
			return false, fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, t.User)
		}
		var other string
		err = tx.QueryRowContext(ctx, `SELECT name FROM directory_tokens WHERE user = ? AND hash = ? AND name != ?`, t.User, t.Hash, t.Name).Scan(&other)
		if err == nil {
			return false, fmt.Errorf("%w: token “%s” of “%s” has the same secret", ErrExists, other, t.User)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, dbErr("put token", err)
		}
		old, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE user = ? AND name = ?`, t.User, t.Name))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, dbErr("put token", err)
		}
		allow := formatPrefixes(t.AllowIPs)
		if found && bytes.Equal(old.Hash, t.Hash) && old.ExpiresAt.Equal(t.ExpiresAt) && formatPrefixes(old.AllowIPs) == allow {
			return false, nil
		}
		created := t.CreatedAt
		if found {
			created = old.CreatedAt
		} else if created.IsZero() {
			created = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (user, name) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at, allow_ips = excluded.allow_ips`,
			t.User, t.Name, t.Hash, timeToDB(t.ExpiresAt), allow, timeToDB(created)); err != nil {
			return false, dbErr("put token", err)
		}
		return true, nil
	})
}

// ListTokens implements Directory. Tokens come sorted by user and name; ""
// lists the tokens of everyone. An unknown user gives ErrNotFound.
func (s *SQLite) ListTokens(ctx context.Context, user string) ([]Token, error) {
	user = strings.ToLower(user)
	var out []Token
	err := s.read(ctx, func(tx *sql.Tx) error {
		query, args := `SELECT `+tokenCols+` FROM directory_tokens ORDER BY user, name`, []any{}
		if user != "" {
			ok, err := tokenUserExists(ctx, tx, user)
			if err != nil {
				return dbErr("list tokens", err)
			}
			if !ok {
				return fmt.Errorf("%w: account “%s” does not exist", ErrNotFound, user)
			}
			query, args = `SELECT `+tokenCols+` FROM directory_tokens WHERE user = ? ORDER BY name`, []any{user}
		}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return dbErr("list tokens", err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				return dbErr("list tokens", err)
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeToken implements Directory.
func (s *SQLite) RevokeToken(ctx context.Context, user, name string) error {
	user = strings.ToLower(user)
	return s.write(ctx, func(tx *sql.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM directory_tokens WHERE user = ? AND name = ?`, user, name)
		if err != nil {
			return false, dbErr("revoke token", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, dbErr("revoke token", err)
		}
		if n == 0 {
			return false, fmt.Errorf("%w: “%s” has no token “%s”", ErrNotFound, user, name)
		}
		return true, nil
	})
}

// TokenByHash implements Directory.
func (s *SQLite) TokenByHash(ctx context.Context, user string, hash []byte) (Token, error) {
	user = strings.ToLower(user)
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE user = ? AND hash = ?`, user, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: no such token", ErrNotFound)
	}
	if err != nil {
		return Token{}, dbErr("token by hash", err)
	}
	return t, nil
}
