package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/directory"
)

// Directory is the directory.Directory in PostgreSQL, shared by every node
// on the same database and by the admin commands run against it.
//
// Every change runs in one transaction that first locks the single
// directory_state row (FOR UPDATE): changes from all nodes are serialised,
// their checks see every change committed before them, and the generation
// counter on that row moves in the same transaction, only when something
// actually changed. Reads that take several queries run in one read-only
// REPEATABLE READ transaction, so they see one snapshot. Its rules and
// messages are those of the SQLite directory (directory.SQLite), proved by
// the same suite (directorytest).
type Directory struct {
	db *DB
}

var _ directory.Directory = (*Directory)(nil)

// NewDirectory returns the directory of db.
func NewDirectory(db *DB) *Directory { return &Directory{db: db} }

// Close implements directory.Directory. It does nothing: the DB belongs to
// its opener.
func (d *Directory) Close() error { return nil }

// queryer is what *pgxpool.Pool and pgx.Tx have in common.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// write runs fn in one transaction holding the directory lock. When fn
// reports a change, the generation is incremented in the same transaction.
// A failing fn changes nothing.
func (d *Directory) write(ctx context.Context, fn func(tx pgx.Tx) (changed bool, err error)) error {
	tx, err := d.db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("directory: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT 1 FROM directory_state WHERE id = 1 FOR UPDATE`); err != nil {
		return fmt.Errorf("directory: lock: %w", err)
	}
	changed, err := fn(tx)
	if err != nil {
		return err
	}
	if !changed {
		return nil // the rollback releases the lock; nothing was written
	}
	if _, err := tx.Exec(ctx, `UPDATE directory_state SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("directory: bump generation: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("directory: commit: %w", err)
	}
	return nil
}

// read runs fn in one read-only snapshot.
func (d *Directory) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := d.db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("directory: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

func dbErr(op string, err error) error {
	return fmt.Errorf("directory: %s: %w", op, err)
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

// dirKey lower-cases a user, domain or address; ok is false when the text
// cannot be stored (and so cannot be there).
func dirKey(s string) (string, bool) {
	s = strings.ToLower(s)
	return s, storable(s)
}

// ---- root ----

// RootPasswordHash implements directory.Directory.
func (d *Directory) RootPasswordHash(ctx context.Context) (string, error) {
	var h string
	if err := d.db.pool.QueryRow(ctx, `SELECT root_password_hash FROM directory_state WHERE id = 1`).Scan(&h); err != nil {
		return "", dbErr("root password", err)
	}
	return h, nil
}

// SetRootPasswordHash implements directory.Directory. "" removes root's
// password.
func (d *Directory) SetRootPasswordHash(ctx context.Context, hash string) error {
	if !directory.ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the root password hash is not a valid crypt string", directory.ErrInvalid)
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `UPDATE directory_state SET root_password_hash = $1 WHERE id = 1 AND root_password_hash != $1`, hash)
		if err != nil {
			return false, dbErr("set root password", err)
		}
		return tag.RowsAffected() > 0, nil
	})
}

// Generation implements directory.Directory. It starts at 1 and grows by
// one with every committed change, whichever node made it.
func (d *Directory) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := d.db.pool.QueryRow(ctx, `SELECT generation FROM directory_state WHERE id = 1`).Scan(&g); err != nil {
		return 0, dbErr("generation", err)
	}
	return g, nil
}

// ---- accounts ----

const accountCols = `username, password_hash, locale, owner, reseller, suspended, created_at`

func scanAccount(sc pgx.Row) (directory.Account, error) {
	var a directory.Account
	var created int64
	err := sc.Scan(&a.User, &a.PasswordHash, &a.Locale, &a.Owner, &a.Reseller, &a.Suspended, &created)
	a.CreatedAt = timeFromDB(created)
	return a, err
}

// loadAccount reads one account with its domains and databases; found is
// false when there is none.
func loadAccount(ctx context.Context, q queryer, user string) (a directory.Account, found bool, err error) {
	a, err = scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM directory_accounts WHERE username = $1`, user))
	if errors.Is(err, pgx.ErrNoRows) {
		return directory.Account{}, false, nil
	}
	if err != nil {
		return directory.Account{}, false, dbErr("get account", err)
	}
	if a.Domains, err = strings1(ctx, q, `SELECT domain FROM directory_domains WHERE account = $1 ORDER BY position`, user); err != nil {
		return directory.Account{}, false, dbErr("get account domains", err)
	}
	if a.Databases, err = strings1(ctx, q, `SELECT name FROM directory_databases WHERE account = $1 ORDER BY position`, user); err != nil {
		return directory.Account{}, false, dbErr("get account databases", err)
	}
	return a, true, nil
}

// strings1 runs a query returning one text column.
func strings1(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(pgx.CollectRows(rows, pgx.RowTo[string]))
}

// nilIfEmpty turns an empty result into nil, as the SQLite directory
// returns it.
func nilIfEmpty[T any](s []T, err error) ([]T, error) {
	if len(s) == 0 {
		return nil, err
	}
	return s, err
}

func accountExists(ctx context.Context, q queryer, user string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM directory_accounts WHERE username = $1)`, user).Scan(&ok)
	return ok, err
}

// GetAccount implements directory.Directory.
func (d *Directory) GetAccount(ctx context.Context, user string) (directory.Account, error) {
	user, ok := dirKey(user)
	notFound := fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
	if !ok {
		return directory.Account{}, notFound
	}
	var a directory.Account
	err := d.read(ctx, func(tx pgx.Tx) error {
		var found bool
		var err error
		a, found, err = loadAccount(ctx, tx, user)
		if err == nil && !found {
			err = notFound
		}
		return err
	})
	return a, err
}

// ListAccounts implements directory.Directory. Accounts come sorted by
// user.
func (d *Directory) ListAccounts(ctx context.Context) ([]directory.Account, error) {
	var out []directory.Account
	err := d.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+accountCols+` FROM directory_accounts ORDER BY username`)
		if err != nil {
			return dbErr("list accounts", err)
		}
		out, err = nilIfEmpty(pgx.CollectRows(rows, func(r pgx.CollectableRow) (directory.Account, error) { return scanAccount(r) }))
		if err != nil {
			return dbErr("list accounts", err)
		}
		idx := map[string]int{}
		for i, a := range out {
			idx[a.User] = i
		}
		for _, part := range []struct {
			query string
			set   func(a *directory.Account, v string)
		}{
			{`SELECT account, domain FROM directory_domains ORDER BY account, position`, func(a *directory.Account, v string) { a.Domains = append(a.Domains, v) }},
			{`SELECT account, name FROM directory_databases ORDER BY account, position`, func(a *directory.Account, v string) { a.Databases = append(a.Databases, v) }},
		} {
			rows, err := tx.Query(ctx, part.query)
			if err != nil {
				return dbErr("list accounts", err)
			}
			var user, v string
			if _, err := pgx.ForEachRow(rows, []any{&user, &v}, func() error {
				if i, ok := idx[user]; ok {
					part.set(&out[i], v)
				}
				return nil
			}); err != nil {
				return dbErr("list accounts", err)
			}
		}
		return nil
	})
	return out, err
}

// ownedAccounts lists the accounts owned by user other than user itself.
func ownedAccounts(ctx context.Context, q queryer, user string) ([]string, error) {
	return strings1(ctx, q, `SELECT username FROM directory_accounts WHERE owner = $1 AND username != $1 ORDER BY username`, user)
}

// PutAccount implements directory.Directory with the rules of
// directory.SQLite.PutAccount: the owner must be "root" or an existing
// reseller (a reseller may own itself); a reseller that owns other accounts
// cannot stop being a reseller; a domain that still has mailboxes cannot be
// dropped (ErrInvalid); an empty Locale becomes "en" and an empty Owner
// "root". A new account gets CreatedAt as given, or now when it is zero.
// Storing exactly what is there already changes nothing.
func (d *Directory) PutAccount(ctx context.Context, a directory.Account) error {
	a, err := normalizeAccount(a)
	if err != nil {
		return err
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		old, exists, err := loadAccount(ctx, tx, a.User)
		if err != nil {
			return false, err
		}
		if a.Owner != directory.RootUser && a.Owner != a.User {
			owner, found, err := loadAccount(ctx, tx, a.Owner)
			if err != nil {
				return false, err
			}
			if !found {
				return false, fmt.Errorf("%w: owner “%s” does not exist", directory.ErrInvalid, a.Owner)
			}
			if !owner.Reseller {
				return false, fmt.Errorf("%w: owner “%s” is not a reseller", directory.ErrInvalid, a.Owner)
			}
		}
		if exists && old.Reseller && !a.Reseller {
			owned, err := ownedAccounts(ctx, tx, a.User)
			if err != nil {
				return false, dbErr("put account", err)
			}
			if len(owned) > 0 {
				return false, fmt.Errorf("%w: “%s” cannot stop being a reseller while it owns accounts (%s)", directory.ErrInvalid, a.User, listNames(owned))
			}
		}
		for _, dom := range a.Domains {
			var owner string
			err := tx.QueryRow(ctx, `SELECT account FROM directory_domains WHERE domain = $1`, dom).Scan(&owner)
			if err == nil && owner != a.User {
				return false, fmt.Errorf("%w: domain “%s” belongs to another account", directory.ErrExists, dom)
			}
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return false, dbErr("put account", err)
			}
		}
		for _, dom := range old.Domains {
			if slices.Contains(a.Domains, dom) {
				continue
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM directory_mailboxes WHERE domain = $1`, dom).Scan(&n); err != nil {
				return false, dbErr("put account", err)
			}
			if n > 0 {
				return false, fmt.Errorf("%w: domain “%s” cannot be removed from “%s” while it has mailboxes", directory.ErrInvalid, dom, a.User)
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
		if _, err := tx.Exec(ctx, `INSERT INTO directory_accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, locale = excluded.locale,
				owner = excluded.owner, reseller = excluded.reseller, suspended = excluded.suspended`,
			a.User, a.PasswordHash, a.Locale, a.Owner, a.Reseller, a.Suspended, timeToDB(created)); err != nil {
			return false, dbErr("put account", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM directory_domains WHERE account = $1`, a.User); err != nil {
			return false, dbErr("put account", err)
		}
		for i, dom := range a.Domains {
			if _, err := tx.Exec(ctx, `INSERT INTO directory_domains (domain, account, position) VALUES ($1, $2, $3)`, dom, a.User, i); err != nil {
				return false, dbErr("put account", err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM directory_databases WHERE account = $1`, a.User); err != nil {
			return false, dbErr("put account", err)
		}
		for i, db := range a.Databases {
			if _, err := tx.Exec(ctx, `INSERT INTO directory_databases (account, name, position) VALUES ($1, $2, $3)`, a.User, db, i); err != nil {
				return false, dbErr("put account", err)
			}
		}
		return true, nil
	})
}

// updateOne runs an UPDATE that changes at most one row identified by the
// last argument; it returns notFound when the row does not exist (exists
// counts it), and changes nothing when the row already has the value.
func (d *Directory) updateOne(ctx context.Context, update, exists string, notFound error, args ...any) error {
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, update, args...)
		if err != nil {
			return false, dbErr("update", err)
		}
		if tag.RowsAffected() > 0 {
			return true, nil
		}
		var c int
		if err := tx.QueryRow(ctx, exists, args[len(args)-1]).Scan(&c); err != nil {
			return false, dbErr("update", err)
		}
		if c == 0 {
			return false, notFound
		}
		return false, nil
	})
}

// SetAccountSuspended implements directory.Directory.
func (d *Directory) SetAccountSuspended(ctx context.Context, user string, suspended bool) error {
	user, ok := dirKey(user)
	notFound := fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
	if !ok {
		return notFound
	}
	return d.updateOne(ctx,
		`UPDATE directory_accounts SET suspended = $1 WHERE suspended != $1 AND username = $2`,
		`SELECT COUNT(*) FROM directory_accounts WHERE username = $1`,
		notFound, suspended, user)
}

// SetAccountPasswordHash implements directory.Directory.
func (d *Directory) SetAccountPasswordHash(ctx context.Context, user, hash string) error {
	user, ok := dirKey(user)
	if !directory.ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", directory.ErrInvalid, user)
	}
	notFound := fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
	if !ok {
		return notFound
	}
	return d.updateOne(ctx,
		`UPDATE directory_accounts SET password_hash = $1 WHERE password_hash != $1 AND username = $2`,
		`SELECT COUNT(*) FROM directory_accounts WHERE username = $1`,
		notFound, hash, user)
}

// RemoveAccount implements directory.Directory: the account goes with its
// domains, databases, mailboxes and tokens. A reseller that still owns
// other accounts cannot be removed (ErrInvalid).
func (d *Directory) RemoveAccount(ctx context.Context, user string) error {
	user, ok := dirKey(user)
	notFound := fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
	if !ok {
		return notFound
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		ok, err := accountExists(ctx, tx, user)
		if err != nil {
			return false, dbErr("remove account", err)
		}
		if !ok {
			return false, notFound
		}
		owned, err := ownedAccounts(ctx, tx, user)
		if err != nil {
			return false, dbErr("remove account", err)
		}
		if len(owned) > 0 {
			return false, fmt.Errorf("%w: reseller “%s” still owns accounts (%s); remove them or give them another owner first", directory.ErrInvalid, user, listNames(owned))
		}
		for _, q := range []string{
			`DELETE FROM directory_tokens WHERE username = $1`,
			`DELETE FROM directory_mailboxes WHERE account = $1`,
			`DELETE FROM directory_domains WHERE account = $1`,
			`DELETE FROM directory_databases WHERE account = $1`,
			`DELETE FROM directory_accounts WHERE username = $1`,
		} {
			if _, err := tx.Exec(ctx, q, user); err != nil {
				return false, dbErr("remove account", err)
			}
		}
		return true, nil
	})
}

// DomainOwner implements directory.Directory.
func (d *Directory) DomainOwner(ctx context.Context, domain string) (string, error) {
	domain, ok := dirKey(domain)
	notFound := fmt.Errorf("%w: domain “%s” does not belong to any account", directory.ErrNotFound, domain)
	if !ok {
		return "", notFound
	}
	var user string
	err := d.db.pool.QueryRow(ctx, `SELECT account FROM directory_domains WHERE domain = $1`, domain).Scan(&user)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound
	}
	if err != nil {
		return "", dbErr("domain owner", err)
	}
	return user, nil
}

// ---- mailboxes ----

const mailboxCols = `address, account, password_hash, suspended_login, created_at`

func scanMailbox(sc pgx.Row) (directory.Mailbox, error) {
	var m directory.Mailbox
	var created int64
	err := sc.Scan(&m.Address, &m.Account, &m.PasswordHash, &m.SuspendedLogin, &created)
	m.CreatedAt = timeFromDB(created)
	return m, err
}

func collectMailboxes(rows pgx.Rows, err error) ([]directory.Mailbox, error) {
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(pgx.CollectRows(rows, func(r pgx.CollectableRow) (directory.Mailbox, error) { return scanMailbox(r) }))
}

// GetMailbox implements directory.Directory.
func (d *Directory) GetMailbox(ctx context.Context, address string) (directory.Mailbox, error) {
	address, ok := dirKey(address)
	notFound := fmt.Errorf("%w: mailbox “%s” does not exist", directory.ErrNotFound, address)
	if !ok {
		return directory.Mailbox{}, notFound
	}
	m, err := scanMailbox(d.db.pool.QueryRow(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE address = $1`, address))
	if errors.Is(err, pgx.ErrNoRows) {
		return directory.Mailbox{}, notFound
	}
	if err != nil {
		return directory.Mailbox{}, dbErr("get mailbox", err)
	}
	return m, nil
}

// ListMailboxes implements directory.Directory. Mailboxes come sorted by
// address. An unknown account gives ErrNotFound.
func (d *Directory) ListMailboxes(ctx context.Context, account string) ([]directory.Mailbox, error) {
	account, ok := dirKey(account)
	if !ok {
		return nil, fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, account)
	}
	var out []directory.Mailbox
	err := d.read(ctx, func(tx pgx.Tx) error {
		var err error
		if account == "" {
			out, err = collectMailboxes(tx.Query(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes ORDER BY address`))
			if err != nil {
				return dbErr("list mailboxes", err)
			}
			return nil
		}
		ok, err := accountExists(ctx, tx, account)
		if err != nil {
			return dbErr("list mailboxes", err)
		}
		if !ok {
			return fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, account)
		}
		out, err = collectMailboxes(tx.Query(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE account = $1 ORDER BY address`, account))
		if err != nil {
			return dbErr("list mailboxes", err)
		}
		return nil
	})
	return out, err
}

// PutMailbox implements directory.Directory. An empty Account means the
// account that owns the address's domain. The account must exist
// (ErrNotFound) and own the domain (ErrInvalid). CreatedAt is kept on
// replace (and set to now when zero on create); storing what is there
// already changes nothing.
func (d *Directory) PutMailbox(ctx context.Context, m directory.Mailbox) error {
	m.Address = strings.ToLower(m.Address)
	m.Account = strings.ToLower(m.Account)
	local, domain, ok := directory.SplitAddress(m.Address)
	if !ok || !directory.ValidLocalPart(local) || !directory.ValidDomain(domain) {
		return fmt.Errorf("%w: “%s” is not a valid mailbox address", directory.ErrInvalid, m.Address)
	}
	if !directory.ValidPasswordHash(m.PasswordHash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", directory.ErrInvalid, m.Address)
	}
	if !storable(m.Account) {
		return fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, m.Account)
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		var owner string
		err := tx.QueryRow(ctx, `SELECT account FROM directory_domains WHERE domain = $1`, domain).Scan(&owner)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, dbErr("put mailbox", err)
		}
		if m.Account == "" {
			if owner == "" {
				return false, fmt.Errorf("%w: domain “%s” does not belong to any account", directory.ErrInvalid, domain)
			}
			m.Account = owner
		}
		exists, err := accountExists(ctx, tx, m.Account)
		if err != nil {
			return false, dbErr("put mailbox", err)
		}
		if !exists {
			return false, fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, m.Account)
		}
		if owner != m.Account {
			return false, fmt.Errorf("%w: domain “%s” is not a domain of account “%s”", directory.ErrInvalid, domain, m.Account)
		}
		old, err := scanMailbox(tx.QueryRow(ctx, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE address = $1`, m.Address))
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
		if _, err := tx.Exec(ctx, `INSERT INTO directory_mailboxes (address, account, domain, password_hash, suspended_login, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (address) DO UPDATE SET account = excluded.account, domain = excluded.domain,
				password_hash = excluded.password_hash, suspended_login = excluded.suspended_login`,
			m.Address, m.Account, domain, m.PasswordHash, m.SuspendedLogin, timeToDB(created)); err != nil {
			return false, dbErr("put mailbox", err)
		}
		return true, nil
	})
}

// SetMailboxSuspendedLogin implements directory.Directory.
func (d *Directory) SetMailboxSuspendedLogin(ctx context.Context, address string, suspended bool) error {
	address, ok := dirKey(address)
	notFound := fmt.Errorf("%w: mailbox “%s” does not exist", directory.ErrNotFound, address)
	if !ok {
		return notFound
	}
	return d.updateOne(ctx,
		`UPDATE directory_mailboxes SET suspended_login = $1 WHERE suspended_login != $1 AND address = $2`,
		`SELECT COUNT(*) FROM directory_mailboxes WHERE address = $1`,
		notFound, suspended, address)
}

// SetMailboxPasswordHash implements directory.Directory.
func (d *Directory) SetMailboxPasswordHash(ctx context.Context, address, hash string) error {
	address, ok := dirKey(address)
	if !directory.ValidPasswordHash(hash) {
		return fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", directory.ErrInvalid, address)
	}
	notFound := fmt.Errorf("%w: mailbox “%s” does not exist", directory.ErrNotFound, address)
	if !ok {
		return notFound
	}
	return d.updateOne(ctx,
		`UPDATE directory_mailboxes SET password_hash = $1 WHERE password_hash != $1 AND address = $2`,
		`SELECT COUNT(*) FROM directory_mailboxes WHERE address = $1`,
		notFound, hash, address)
}

// RemoveMailbox implements directory.Directory.
func (d *Directory) RemoveMailbox(ctx context.Context, address string) error {
	address, ok := dirKey(address)
	notFound := fmt.Errorf("%w: mailbox “%s” does not exist", directory.ErrNotFound, address)
	if !ok {
		return notFound
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM directory_mailboxes WHERE address = $1`, address)
		if err != nil {
			return false, dbErr("remove mailbox", err)
		}
		if tag.RowsAffected() == 0 {
			return false, notFound
		}
		return true, nil
	})
}

// ---- tokens ----

const tokenCols = `username, name, hash, expires_at, allow_ips, created_at`

func scanToken(sc pgx.Row) (directory.Token, error) {
	var t directory.Token
	var exp, created int64
	var allow string
	if err := sc.Scan(&t.User, &t.Name, &t.Hash, &exp, &allow, &created); err != nil {
		return directory.Token{}, err
	}
	t.ExpiresAt, t.CreatedAt = timeFromDB(exp), timeFromDB(created)
	var err error
	if t.AllowIPs, err = parsePrefixes(allow); err != nil {
		return directory.Token{}, err
	}
	return t, nil
}

// tokenUserExists reports whether user may hold tokens: root or an
// account.
func tokenUserExists(ctx context.Context, q queryer, user string) (bool, error) {
	if user == directory.RootUser {
		return true, nil
	}
	return accountExists(ctx, q, user)
}

// PutToken implements directory.Directory. User must be "root" or an
// existing account (ErrNotFound); Name must pass ValidTokenName and Hash be
// a SHA-256 (ErrInvalid); another token of the same user with the same hash
// gives ErrExists. CreatedAt is kept on replace (and set to now when zero on
// create); storing what is there already changes nothing.
func (d *Directory) PutToken(ctx context.Context, t directory.Token) error {
	t.User = strings.ToLower(t.User)
	if !directory.ValidTokenName(t.Name) {
		return fmt.Errorf("%w: “%s” is not a valid token name (1 to 50 letters, digits, “_” or “-”)", directory.ErrInvalid, t.Name)
	}
	if len(t.Hash) != 32 {
		return fmt.Errorf("%w: the hash of token “%s” is not a SHA-256", directory.ErrInvalid, t.Name)
	}
	for _, p := range t.AllowIPs {
		if !p.IsValid() {
			return fmt.Errorf("%w: token “%s” has an invalid address prefix in its allow-list", directory.ErrInvalid, t.Name)
		}
	}
	if !storable(t.User) {
		return fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, t.User)
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		ok, err := tokenUserExists(ctx, tx, t.User)
		if err != nil {
			return false, dbErr("put token", err)
		}
		if !ok {
			return false, fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, t.User)
		}
		var other string
		err = tx.QueryRow(ctx, `SELECT name FROM directory_tokens WHERE username = $1 AND hash = $2 AND name != $3`, t.User, t.Hash, t.Name).Scan(&other)
		if err == nil {
			return false, fmt.Errorf("%w: token “%s” of “%s” has the same secret", directory.ErrExists, other, t.User)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, dbErr("put token", err)
		}
		old, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE username = $1 AND name = $2`, t.User, t.Name))
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
		if _, err := tx.Exec(ctx, `INSERT INTO directory_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (username, name) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at, allow_ips = excluded.allow_ips`,
			t.User, t.Name, t.Hash, timeToDB(t.ExpiresAt), allow, timeToDB(created)); err != nil {
			return false, dbErr("put token", err)
		}
		return true, nil
	})
}

func collectTokens(rows pgx.Rows, err error) ([]directory.Token, error) {
	if err != nil {
		return nil, err
	}
	return nilIfEmpty(pgx.CollectRows(rows, func(r pgx.CollectableRow) (directory.Token, error) { return scanToken(r) }))
}

// ListTokens implements directory.Directory. Tokens come sorted by user and
// name; "" lists the tokens of everyone. An unknown user gives ErrNotFound.
func (d *Directory) ListTokens(ctx context.Context, user string) ([]directory.Token, error) {
	user, ok := dirKey(user)
	if !ok {
		return nil, fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
	}
	var out []directory.Token
	err := d.read(ctx, func(tx pgx.Tx) error {
		var err error
		if user == "" {
			out, err = collectTokens(tx.Query(ctx, `SELECT `+tokenCols+` FROM directory_tokens ORDER BY username, name`))
			if err != nil {
				return dbErr("list tokens", err)
			}
			return nil
		}
		ok, err := tokenUserExists(ctx, tx, user)
		if err != nil {
			return dbErr("list tokens", err)
		}
		if !ok {
			return fmt.Errorf("%w: account “%s” does not exist", directory.ErrNotFound, user)
		}
		out, err = collectTokens(tx.Query(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE username = $1 ORDER BY name`, user))
		if err != nil {
			return dbErr("list tokens", err)
		}
		return nil
	})
	return out, err
}

// RevokeToken implements directory.Directory.
func (d *Directory) RevokeToken(ctx context.Context, user, name string) error {
	user, ok := dirKey(user)
	notFound := fmt.Errorf("%w: “%s” has no token “%s”", directory.ErrNotFound, user, name)
	if !ok || !storable(name) {
		return notFound
	}
	return d.write(ctx, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM directory_tokens WHERE username = $1 AND name = $2`, user, name)
		if err != nil {
			return false, dbErr("revoke token", err)
		}
		if tag.RowsAffected() == 0 {
			return false, notFound
		}
		return true, nil
	})
}

// TokenByHash implements directory.Directory.
func (d *Directory) TokenByHash(ctx context.Context, user string, hash []byte) (directory.Token, error) {
	user, ok := dirKey(user)
	notFound := fmt.Errorf("%w: no such token", directory.ErrNotFound)
	if !ok || len(hash) == 0 {
		return directory.Token{}, notFound
	}
	t, err := scanToken(d.db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM directory_tokens WHERE username = $1 AND hash = $2`, user, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return directory.Token{}, notFound
	}
	if err != nil {
		return directory.Token{}, dbErr("token by hash", err)
	}
	return t, nil
}

// ---- rules shared with directory.SQLite (kept in step by directorytest) ----

// normalizeAccount lower-cases and checks a, filling the defaults (locale
// "en", owner "root"). It checks everything that needs no database.
func normalizeAccount(a directory.Account) (directory.Account, error) {
	a.User = strings.ToLower(a.User)
	switch {
	case a.User == directory.RootUser:
		return a, fmt.Errorf("%w: “root” is the superuser and cannot be an account", directory.ErrInvalid)
	case !directory.ValidUser(a.User):
		return a, fmt.Errorf("%w: “%s” is not a valid user name (a lower-case letter followed by up to 15 lower-case letters or digits)", directory.ErrInvalid, a.User)
	}
	if !directory.ValidPasswordHash(a.PasswordHash) {
		return a, fmt.Errorf("%w: the password hash of “%s” is not a valid crypt string", directory.ErrInvalid, a.User)
	}
	if a.Locale == "" {
		a.Locale = "en"
	}
	if !directory.ValidLocale(a.Locale) {
		return a, fmt.Errorf("%w: “%s” is not a valid locale name", directory.ErrInvalid, a.Locale)
	}
	a.Owner = strings.ToLower(a.Owner)
	if a.Owner == "" {
		a.Owner = directory.RootUser
	}
	if !storable(a.Owner) {
		return a, fmt.Errorf("%w: owner “%s” does not exist", directory.ErrInvalid, a.Owner)
	}
	if a.Owner == a.User && !a.Reseller {
		return a, fmt.Errorf("%w: account “%s” can only own itself if it is a reseller", directory.ErrInvalid, a.User)
	}
	domains := make([]string, 0, len(a.Domains))
	for _, dom := range a.Domains {
		dom = strings.ToLower(dom)
		if !directory.ValidDomain(dom) {
			return a, fmt.Errorf("%w: “%s” is not a valid domain name", directory.ErrInvalid, dom)
		}
		if slices.Contains(domains, dom) {
			return a, fmt.Errorf("%w: domain “%s” is listed twice", directory.ErrInvalid, dom)
		}
		domains = append(domains, dom)
	}
	a.Domains = domains
	dbs := make([]string, 0, len(a.Databases))
	for _, db := range a.Databases {
		if !directory.ValidDatabaseName(a.User, db) {
			return a, fmt.Errorf("%w: “%s” is not a valid database name for “%s” (lower-case letters, digits and “_”, at most 64 characters, starting with “%s_”)", directory.ErrInvalid, db, a.User, a.User)
		}
		if slices.Contains(dbs, db) {
			return a, fmt.Errorf("%w: database “%s” is listed twice", directory.ErrInvalid, db)
		}
		dbs = append(dbs, db)
	}
	a.Databases = dbs
	return a, nil
}

// sameAccount compares everything PutAccount stores except CreatedAt.
func sameAccount(a, b directory.Account) bool {
	return a.User == b.User && a.PasswordHash == b.PasswordHash && a.Locale == b.Locale &&
		a.Owner == b.Owner && a.Reseller == b.Reseller && a.Suspended == b.Suspended &&
		slices.Equal(a.Domains, b.Domains) && slices.Equal(a.Databases, b.Databases)
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
