package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Directory is the store.Directory in SQL. Every change runs in one
// transaction that first serialises against every other directory write
// (see the package comment) and increments the generation counter on the
// directory_state row when, and only when, something changed. Reads that
// take several queries run in one snapshot.
type Directory struct {
	db *DB
}

var _ store.Directory = (*Directory)(nil)

// write runs fn in one directory write transaction; when fn reports a
// change, the generation moves in the same transaction. A failing fn
// changes nothing.
func (d *Directory) write(ctx context.Context, op string, fn func(tx *sql.Tx) (changed bool, err error)) error {
	return d.db.tx(ctx, nil, op, func(tx *sql.Tx) (bool, error) {
		if l := d.db.d.lockDirectory; l != "" {
			if _, err := tx.ExecContext(ctx, l); err != nil {
				return false, d.db.fail(op+": lock", err)
			}
		}
		changed, err := fn(tx)
		if err != nil || !changed {
			return false, err
		}
		if _, err := d.db.exec(ctx, tx, `UPDATE directory_state SET generation = generation + 1 WHERE id = 1`); err != nil {
			return false, d.db.fail(op+": generation", err)
		}
		return true, nil
	})
}

// read runs fn in one read-only snapshot.
func (d *Directory) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return d.db.tx(ctx, d.db.d.readTx, op, func(tx *sql.Tx) (bool, error) {
		return false, fn(tx)
	})
}

// strings1 runs a query returning one text column.
func (d *Directory) strings1(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := d.db.query(ctx, q, query, args...)
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

// ---- root ----

// RootPasswordHash implements store.Directory.
func (d *Directory) RootPasswordHash(ctx context.Context) (string, error) {
	var h string
	err := d.db.row(ctx, d.db.db, `SELECT root_password_hash FROM directory_state WHERE id = 1`).Scan(&h)
	return h, d.db.fail("root password", err)
}

// SetRootPasswordHash implements store.Directory. "" removes root's
// password.
func (d *Directory) SetRootPasswordHash(ctx context.Context, hash string) error {
	if !store.ValidPasswordHash(hash) {
		return store.Errorf(store.ErrInvalid, "the root password hash is not a valid crypt string")
	}
	return d.write(ctx, "set root password", func(tx *sql.Tx) (bool, error) {
		res, err := d.db.exec(ctx, tx, `UPDATE directory_state SET root_password_hash = ? WHERE id = 1 AND root_password_hash != ?`, hash, hash)
		if err != nil {
			return false, d.db.fail("set root password", err)
		}
		n, err := res.RowsAffected()
		return n > 0, d.db.fail("set root password", err)
	})
}

// Generation implements store.Directory. It starts at 1 and grows by one
// with every committed change, whichever process or node made it.
func (d *Directory) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := d.db.row(ctx, d.db.db, `SELECT generation FROM directory_state WHERE id = 1`).Scan(&g)
	return g, d.db.fail("generation", err)
}

// ---- accounts ----

const accountCols = `username, password_hash, locale, owner, reseller, created_at,
	plan, contact_email, suspended, suspend_reason, suspended_at, suspend_locked, acls, ` + limitCols

func scanAccount(sc scanner) (store.Account, error) {
	var a store.Account
	var created, suspendedAt int64
	var acls string
	dest := append([]any{&a.User, &a.PasswordHash, &a.Locale, &a.Owner, &a.Reseller, &created,
		&a.Plan, &a.ContactEmail, &a.Suspended, &a.SuspendReason, &suspendedAt, &a.SuspendLocked, &acls},
		limitDest(&a.Limits)...)
	err := sc.Scan(dest...)
	a.CreatedAt, a.SuspendedAt = fromNanos(created), fromNanos(suspendedAt)
	a.ACLs = splitACLs(acls)
	return a, err
}

func accountArgs(a store.Account) []any {
	return append([]any{a.User, a.PasswordHash, a.Locale, a.Owner, a.Reseller, nanos(a.CreatedAt),
		a.Plan, a.ContactEmail, a.Suspended, a.SuspendReason, nanos(a.SuspendedAt), a.SuspendLocked, joinACLs(a.ACLs)},
		limitArgs(a.Limits)...)
}

func notAccount(user string) error {
	return store.Errorf(store.ErrNotFound, "account “%s” does not exist", user)
}

// loadAccount reads one account with its domains and databases; found is
// false when there is none.
func (d *Directory) loadAccount(ctx context.Context, q querier, user string) (a store.Account, found bool, err error) {
	if !store.ValidUser(user) {
		return store.Account{}, false, nil
	}
	a, err = scanAccount(d.db.row(ctx, q, `SELECT `+accountCols+` FROM directory_accounts WHERE username = ?`, user))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Account{}, false, nil
	}
	if err != nil {
		return store.Account{}, false, d.db.fail("get account", err)
	}
	if a.Domains, err = d.strings1(ctx, q, `SELECT domain FROM directory_domains WHERE account = ? ORDER BY position`, user); err != nil {
		return store.Account{}, false, d.db.fail("get account domains", err)
	}
	if a.Databases, err = d.strings1(ctx, q, `SELECT name FROM directory_databases WHERE account = ? ORDER BY position`, user); err != nil {
		return store.Account{}, false, d.db.fail("get account databases", err)
	}
	return a, true, nil
}

func (d *Directory) accountExists(ctx context.Context, q querier, user string) (bool, error) {
	if !store.ValidUser(user) {
		return false, nil
	}
	var ok bool
	err := d.db.row(ctx, q, `SELECT EXISTS (SELECT 1 FROM directory_accounts WHERE username = ?)`, user).Scan(&ok)
	return ok, d.db.fail("account exists", err)
}

// GetAccount implements store.Directory.
func (d *Directory) GetAccount(ctx context.Context, user string) (store.Account, error) {
	user = strings.ToLower(user)
	var a store.Account
	err := d.read(ctx, "get account", func(tx *sql.Tx) error {
		var found bool
		var err error
		a, found, err = d.loadAccount(ctx, tx, user)
		if err == nil && !found {
			err = notAccount(user)
		}
		return err
	})
	return a, err
}

// ListAccounts implements store.Directory.
func (d *Directory) ListAccounts(ctx context.Context) ([]store.Account, error) {
	var out []store.Account
	err := d.read(ctx, "list accounts", func(tx *sql.Tx) error {
		rows, err := d.db.query(ctx, tx, `SELECT `+accountCols+` FROM directory_accounts ORDER BY username`)
		if err != nil {
			return d.db.fail("list accounts", err)
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return d.db.fail("list accounts", err)
			}
			idx[a.User] = len(out)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return d.db.fail("list accounts", err)
		}
		rows.Close()
		for _, part := range []struct {
			query string
			add   func(a *store.Account, v string)
		}{
			{`SELECT account, domain FROM directory_domains ORDER BY account, position`, func(a *store.Account, v string) { a.Domains = append(a.Domains, v) }},
			{`SELECT account, name FROM directory_databases ORDER BY account, position`, func(a *store.Account, v string) { a.Databases = append(a.Databases, v) }},
		} {
			if err := d.pairs(ctx, tx, part.query, func(user, v string) {
				if i, ok := idx[user]; ok {
					part.add(&out[i], v)
				}
			}); err != nil {
				return d.db.fail("list accounts", err)
			}
		}
		return nil
	})
	return out, err
}

// pairs runs a query returning two text columns and calls fn per row.
func (d *Directory) pairs(ctx context.Context, q querier, query string, fn func(a, b string)) error {
	rows, err := d.db.query(ctx, q, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// CreateAccount implements store.Directory.
func (d *Directory) CreateAccount(ctx context.Context, a store.Account) error {
	a, err := store.NormalizeAccount(a)
	if err != nil {
		return err
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now()
	}
	return d.write(ctx, "create account", func(tx *sql.Tx) (bool, error) {
		return true, d.insertAccount(ctx, tx, a)
	})
}

// UpdateAccount implements store.Directory.
func (d *Directory) UpdateAccount(ctx context.Context, user string, fn func(*store.Account) error) (store.Account, error) {
	user = strings.ToLower(user)
	var out store.Account
	err := d.write(ctx, "update account", func(tx *sql.Tx) (bool, error) {
		old, found, err := d.loadAccount(ctx, tx, user)
		if err != nil {
			return false, err
		}
		if !found {
			return false, notAccount(user)
		}
		a := old
		a.Domains, a.Databases = slices.Clone(old.Domains), slices.Clone(old.Databases)
		if err := fn(&a); err != nil {
			return false, err
		}
		if strings.ToLower(a.User) != old.User {
			return false, store.Errorf(store.ErrInvalid, "the user name of account “%s” cannot change", old.User)
		}
		if a, err = store.NormalizeAccount(a); err != nil {
			return false, err
		}
		a.CreatedAt = old.CreatedAt
		out = a
		return d.replaceAccount(ctx, tx, old, a)
	})
	if err != nil {
		return store.Account{}, err
	}
	return out, nil
}

// PutAccount implements store.Directory.
func (d *Directory) PutAccount(ctx context.Context, a store.Account) error {
	a, err := store.NormalizeAccount(a)
	if err != nil {
		return err
	}
	return d.write(ctx, "put account", func(tx *sql.Tx) (bool, error) {
		old, found, err := d.loadAccount(ctx, tx, a.User)
		if err != nil {
			return false, err
		}
		if !found {
			if a.CreatedAt.IsZero() {
				a.CreatedAt = time.Now()
			}
			return true, d.insertAccount(ctx, tx, a)
		}
		a.CreatedAt = old.CreatedAt
		return d.replaceAccount(ctx, tx, old, a)
	})
}

// checkOwner checks that a's owner is root, a itself (a reseller, checked
// by NormalizeAccount) or an existing reseller.
func (d *Directory) checkOwner(ctx context.Context, tx *sql.Tx, a store.Account) error {
	if a.Owner == store.RootUser || a.Owner == a.User {
		return nil
	}
	var reseller bool
	err := d.db.row(ctx, tx, `SELECT reseller FROM directory_accounts WHERE username = ?`, a.Owner).Scan(&reseller)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Errorf(store.ErrInvalid, "owner “%s” does not exist", a.Owner)
	case err != nil:
		return d.db.fail("check owner", err)
	case !reseller:
		return store.Errorf(store.ErrInvalid, "owner “%s” is not a reseller", a.Owner)
	}
	return nil
}

// insertAccount inserts a new account with its domains and databases; the
// table's uniqueness decides whether the user and the domains are free.
func (d *Directory) insertAccount(ctx context.Context, tx *sql.Tx, a store.Account) error {
	if err := d.checkOwner(ctx, tx, a); err != nil {
		return err
	}
	_, err := d.db.exec(ctx, tx, `INSERT INTO directory_accounts (`+accountCols+`)
		VALUES (`+placeholders(13+limitCount)+`)`, accountArgs(a)...)
	if d.db.d.violates(err) {
		return store.FieldErrorf(store.ErrExists, "user", "the account “%s” already exists", a.User)
	}
	if err != nil {
		return d.db.fail("create account", err)
	}
	return d.insertParts(ctx, tx, a)
}

// insertParts inserts a's domains and databases.
func (d *Directory) insertParts(ctx context.Context, tx *sql.Tx, a store.Account) error {
	for i, dom := range a.Domains {
		_, err := d.db.exec(ctx, tx, `INSERT INTO directory_domains (domain, account, position) VALUES (?, ?, ?)`, dom, a.User, i)
		if d.db.d.violates(err) {
			return store.FieldErrorf(store.ErrExists, "domain", "domain “%s” belongs to another account", dom)
		}
		if err != nil {
			return d.db.fail("add domain", err)
		}
	}
	for i, db := range a.Databases {
		if _, err := d.db.exec(ctx, tx, `INSERT INTO directory_databases (account, name, position) VALUES (?, ?, ?)`, a.User, db, i); err != nil {
			return d.db.fail("add database", err)
		}
	}
	return nil
}

// replaceAccount stores a over old (same user): the owner must be able to
// own it, a reseller that owns accounts stays one, a domain that has
// mailboxes stays the account's, and a new domain must be free. It
// reports whether anything changed.
func (d *Directory) replaceAccount(ctx context.Context, tx *sql.Tx, old, a store.Account) (bool, error) {
	if store.SameAccount(old, a) {
		return false, nil
	}
	if err := d.checkOwner(ctx, tx, a); err != nil {
		return false, err
	}
	if old.Reseller && !a.Reseller {
		owned, err := d.ownedAccounts(ctx, tx, a.User)
		if err != nil {
			return false, err
		}
		if len(owned) > 0 {
			return false, store.Errorf(store.ErrInvalid, "“%s” cannot stop being a reseller while it owns accounts (%s)", a.User, store.ListNames(owned))
		}
	}
	for _, dom := range old.Domains {
		if slices.Contains(a.Domains, dom) {
			continue
		}
		var n int
		if err := d.db.row(ctx, tx, `SELECT COUNT(*) FROM directory_mailboxes WHERE domain = ?`, dom).Scan(&n); err != nil {
			return false, d.db.fail("update account", err)
		}
		if n > 0 {
			return false, store.Errorf(store.ErrInvalid, "domain “%s” cannot be removed from “%s” while it has mailboxes", dom, a.User)
		}
	}
	args := append(accountArgs(a)[1:], a.User)
	if _, err := d.db.exec(ctx, tx, `UPDATE directory_accounts SET password_hash = ?, locale = ?, owner = ?,
		reseller = ?, created_at = ?, plan = ?, contact_email = ?, suspended = ?, suspend_reason = ?,
		suspended_at = ?, suspend_locked = ?, acls = ?, `+limitSet+` WHERE username = ?`, args...); err != nil {
		return false, d.db.fail("update account", err)
	}
	for _, q := range []string{
		`DELETE FROM directory_domains WHERE account = ?`,
		`DELETE FROM directory_databases WHERE account = ?`,
	} {
		if _, err := d.db.exec(ctx, tx, q, a.User); err != nil {
			return false, d.db.fail("update account", err)
		}
	}
	return true, d.insertParts(ctx, tx, a)
}

// ownedAccounts lists the accounts owned by user other than user itself.
func (d *Directory) ownedAccounts(ctx context.Context, q querier, user string) ([]string, error) {
	owned, err := d.strings1(ctx, q, `SELECT username FROM directory_accounts WHERE owner = ? AND username != ? ORDER BY username`, user, user)
	return owned, d.db.fail("owned accounts", err)
}

// RemoveAccount implements store.Directory.
func (d *Directory) RemoveAccount(ctx context.Context, user string) error {
	user = strings.ToLower(user)
	return d.write(ctx, "remove account", func(tx *sql.Tx) (bool, error) {
		ok, err := d.accountExists(ctx, tx, user)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, notAccount(user)
		}
		owned, err := d.ownedAccounts(ctx, tx, user)
		if err != nil {
			return false, err
		}
		if len(owned) > 0 {
			return false, store.Errorf(store.ErrInvalid, "reseller “%s” still owns accounts (%s); remove them or give them another owner first", user, store.ListNames(owned))
		}
		for _, q := range []string{
			`DELETE FROM directory_packages WHERE owner = ?`,
			`DELETE FROM directory_tokens WHERE username = ?`,
			`DELETE FROM directory_mailboxes WHERE account = ?`,
			`DELETE FROM directory_domains WHERE account = ?`,
			`DELETE FROM directory_databases WHERE account = ?`,
			`DELETE FROM directory_accounts WHERE username = ?`,
		} {
			if _, err := d.db.exec(ctx, tx, q, user); err != nil {
				return false, d.db.fail("remove account", err)
			}
		}
		return true, nil
	})
}

// domainOwner returns the account owning domain ("" when none).
func (d *Directory) domainOwner(ctx context.Context, q querier, domain string) (string, error) {
	if !store.Text(domain) {
		return "", nil
	}
	var user string
	err := d.db.row(ctx, q, `SELECT account FROM directory_domains WHERE domain = ?`, domain).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return user, d.db.fail("domain owner", err)
}

// DomainOwner implements store.Directory.
func (d *Directory) DomainOwner(ctx context.Context, domain string) (string, error) {
	domain = strings.ToLower(domain)
	user, err := d.domainOwner(ctx, d.db.db, domain)
	if err == nil && user == "" {
		err = store.Errorf(store.ErrNotFound, "domain “%s” does not belong to any account", domain)
	}
	return user, err
}

// ---- mailboxes ----

const mailboxCols = `address, account, password_hash, suspended_login, created_at, quota`

func scanMailbox(sc scanner) (store.Mailbox, error) {
	var m store.Mailbox
	var created int64
	err := sc.Scan(&m.Address, &m.Account, &m.PasswordHash, &m.SuspendedLogin, &created, &m.Quota)
	m.CreatedAt = fromNanos(created)
	return m, err
}

func notMailbox(address string) error {
	return store.Errorf(store.ErrNotFound, "mailbox “%s” does not exist", address)
}

// loadMailbox reads one mailbox; found is false when there is none.
func (d *Directory) loadMailbox(ctx context.Context, q querier, address string) (store.Mailbox, bool, error) {
	if !store.Text(address) {
		return store.Mailbox{}, false, nil
	}
	m, err := scanMailbox(d.db.row(ctx, q, `SELECT `+mailboxCols+` FROM directory_mailboxes WHERE address = ?`, address))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Mailbox{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, false, d.db.fail("get mailbox", err)
	}
	return m, true, nil
}

// GetMailbox implements store.Directory.
func (d *Directory) GetMailbox(ctx context.Context, address string) (store.Mailbox, error) {
	address = strings.ToLower(address)
	m, found, err := d.loadMailbox(ctx, d.db.db, address)
	if err == nil && !found {
		err = notMailbox(address)
	}
	return m, err
}

// ListMailboxes implements store.Directory.
func (d *Directory) ListMailboxes(ctx context.Context, account string) ([]store.Mailbox, error) {
	return list(ctx, d, "list mailboxes", strings.ToLower(account), d.accountExists,
		`SELECT `+mailboxCols+` FROM directory_mailboxes ORDER BY address`,
		`SELECT `+mailboxCols+` FROM directory_mailboxes WHERE account = ? ORDER BY address`, scanMailbox)
}

// list reads, in one snapshot, the records of all (owner "") or of one
// owner, which must exist (ErrNotFound otherwise).
func list[T any](ctx context.Context, d *Directory, op, owner string, exists func(context.Context, querier, string) (bool, error),
	all, ofOwner string, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := d.read(ctx, op, func(tx *sql.Tx) error {
		query, args := all, []any{}
		if owner != "" {
			ok, err := exists(ctx, tx, owner)
			if err != nil {
				return err
			}
			if !ok {
				return notAccount(owner)
			}
			query, args = ofOwner, []any{owner}
		}
		rows, err := d.db.query(ctx, tx, query, args...)
		if err != nil {
			return d.db.fail(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return d.db.fail(op, err)
			}
			out = append(out, v)
		}
		return d.db.fail(op, rows.Err())
	})
	return out, err
}

// mailboxAccount resolves and checks the account of a new mailbox m of
// domain: the domain's owner when m.Account is empty; the account must
// exist and own the domain.
func (d *Directory) mailboxAccount(ctx context.Context, tx *sql.Tx, m store.Mailbox, domain string) (string, error) {
	owner, err := d.domainOwner(ctx, tx, domain)
	if err != nil {
		return "", err
	}
	if m.Account == "" {
		if owner == "" {
			return "", store.Errorf(store.ErrInvalid, "domain “%s” does not belong to any account", domain)
		}
		return owner, nil
	}
	ok, err := d.accountExists(ctx, tx, m.Account)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", notAccount(m.Account)
	}
	if owner != m.Account {
		return "", store.Errorf(store.ErrInvalid, "domain “%s” is not a domain of account “%s”", domain, m.Account)
	}
	return m.Account, nil
}

// insertMailbox inserts a new mailbox; the table's uniqueness decides
// whether the address is free.
func (d *Directory) insertMailbox(ctx context.Context, tx *sql.Tx, m store.Mailbox, domain string) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	_, err := d.db.exec(ctx, tx, `INSERT INTO directory_mailboxes (address, account, domain, password_hash, suspended_login, created_at, quota)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.Address, m.Account, domain, m.PasswordHash, m.SuspendedLogin, nanos(m.CreatedAt), m.Quota)
	if d.db.d.violates(err) {
		return store.FieldErrorf(store.ErrExists, "address", "the mailbox “%s” already exists", m.Address)
	}
	return d.db.fail("create mailbox", err)
}

// CreateMailbox implements store.Directory.
func (d *Directory) CreateMailbox(ctx context.Context, m store.Mailbox) error {
	m, domain, err := store.NormalizeMailbox(m)
	if err != nil {
		return err
	}
	return d.write(ctx, "create mailbox", func(tx *sql.Tx) (bool, error) {
		if m.Account, err = d.mailboxAccount(ctx, tx, m, domain); err != nil {
			return false, err
		}
		if err := d.checkMaxPOP(ctx, tx, m.Account); err != nil {
			return false, err
		}
		return true, d.insertMailbox(ctx, tx, m, domain)
	})
}

// checkMaxPOP refuses one more mailbox for account when it has as many as
// its MAXPOP limit allows.
func (d *Directory) checkMaxPOP(ctx context.Context, tx *sql.Tx, account string) error {
	var max store.Limit
	if err := d.db.row(ctx, tx, `SELECT max_pop FROM directory_accounts WHERE username = ?`, account).Scan(dbLimit{&max}); err != nil {
		return d.db.fail("check mailbox limit", err)
	}
	if !max.Limited {
		return nil
	}
	var n int64
	if err := d.db.row(ctx, tx, `SELECT COUNT(*) FROM directory_mailboxes WHERE account = ?`, account).Scan(&n); err != nil {
		return d.db.fail("check mailbox limit", err)
	}
	if !max.Allows(n) {
		return store.FieldErrorf(store.ErrInvalid, "maxpop", "the account “%s” has reached its limit of %d email accounts", account, max.N)
	}
	return nil
}

// UpdateMailbox implements store.Directory.
func (d *Directory) UpdateMailbox(ctx context.Context, address string, fn func(*store.Mailbox) error) (store.Mailbox, error) {
	address = strings.ToLower(address)
	var out store.Mailbox
	err := d.write(ctx, "update mailbox", func(tx *sql.Tx) (bool, error) {
		old, found, err := d.loadMailbox(ctx, tx, address)
		if err != nil {
			return false, err
		}
		if !found {
			return false, notMailbox(address)
		}
		m := old
		if err := fn(&m); err != nil {
			return false, err
		}
		if strings.ToLower(m.Address) != old.Address || strings.ToLower(m.Account) != old.Account {
			return false, store.Errorf(store.ErrInvalid, "the address and account of mailbox “%s” cannot change", old.Address)
		}
		m.Address, m.Account, m.CreatedAt = old.Address, old.Account, old.CreatedAt
		if !store.ValidPasswordHash(m.PasswordHash) {
			return false, store.Errorf(store.ErrInvalid, "the password hash of “%s” is not a valid crypt string", m.Address)
		}
		if m.Quota < 0 {
			return false, store.Errorf(store.ErrInvalid, "the quota of “%s” is negative", m.Address)
		}
		out = m
		return d.replaceMailbox(ctx, tx, old, m)
	})
	if err != nil {
		return store.Mailbox{}, err
	}
	return out, nil
}

// replaceMailbox stores the password hash, login suspension and quota of
// m over old (same address and account); it reports whether anything
// changed.
func (d *Directory) replaceMailbox(ctx context.Context, tx *sql.Tx, old, m store.Mailbox) (bool, error) {
	if old.PasswordHash == m.PasswordHash && old.SuspendedLogin == m.SuspendedLogin && old.Quota == m.Quota {
		return false, nil
	}
	_, err := d.db.exec(ctx, tx, `UPDATE directory_mailboxes SET password_hash = ?, suspended_login = ?, quota = ? WHERE address = ?`,
		m.PasswordHash, m.SuspendedLogin, m.Quota, m.Address)
	return err == nil, d.db.fail("update mailbox", err)
}

// PutMailbox implements store.Directory. A mailbox that exists keeps its
// CreatedAt; moving it to another account is a removal and a creation.
func (d *Directory) PutMailbox(ctx context.Context, m store.Mailbox) error {
	m, domain, err := store.NormalizeMailbox(m)
	if err != nil {
		return err
	}
	return d.write(ctx, "put mailbox", func(tx *sql.Tx) (bool, error) {
		if m.Account, err = d.mailboxAccount(ctx, tx, m, domain); err != nil {
			return false, err
		}
		old, found, err := d.loadMailbox(ctx, tx, m.Address)
		if err != nil {
			return false, err
		}
		switch {
		case !found:
			return true, d.insertMailbox(ctx, tx, m, domain)
		case old.Account == m.Account:
			return d.replaceMailbox(ctx, tx, old, m)
		}
		if _, err := d.db.exec(ctx, tx, `DELETE FROM directory_mailboxes WHERE address = ?`, m.Address); err != nil {
			return false, d.db.fail("put mailbox", err)
		}
		m.CreatedAt = old.CreatedAt
		return true, d.insertMailbox(ctx, tx, m, domain)
	})
}

// RemoveMailbox implements store.Directory.
func (d *Directory) RemoveMailbox(ctx context.Context, address string) error {
	address = strings.ToLower(address)
	return d.write(ctx, "remove mailbox", func(tx *sql.Tx) (bool, error) {
		if !store.Text(address) {
			return false, notMailbox(address)
		}
		res, err := d.db.exec(ctx, tx, `DELETE FROM directory_mailboxes WHERE address = ?`, address)
		if err != nil {
			return false, d.db.fail("remove mailbox", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, cmpErr(d.db.fail("remove mailbox", err), notMailbox(address))
		}
		return true, nil
	})
}

// cmpErr returns err when it is not nil, else otherwise.
func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// ---- tokens ----

const tokenCols = `username, name, hash, expires_at, allow_ips, created_at`

func scanToken(sc scanner) (store.Token, error) {
	var t store.Token
	var exp, created int64
	var allow string
	if err := sc.Scan(&t.User, &t.Name, &t.Hash, &exp, &allow, &created); err != nil {
		return store.Token{}, err
	}
	t.ExpiresAt, t.CreatedAt = fromNanos(exp), fromNanos(created)
	var err error
	if t.AllowIPs, err = parsePrefixes(allow); err != nil {
		return store.Token{}, err
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
			return nil, errors.New("stored allow-list: " + err.Error())
		}
	}
	return out, nil
}

// tokenUserExists reports whether user may hold tokens: root or an account.
func (d *Directory) tokenUserExists(ctx context.Context, q querier, user string) (bool, error) {
	if user == store.RootUser {
		return true, nil
	}
	return d.accountExists(ctx, q, user)
}

// tokenConflict is the error of a token that violates a uniqueness.
func (d *Directory) tokenConflict(err error, t store.Token) error {
	if d.db.d.violates(err, "hash") {
		return store.FieldErrorf(store.ErrExists, "hash", "another token of “%s” has the same secret", t.User)
	}
	return store.FieldErrorf(store.ErrExists, "name", "“%s” already has a token named “%s”", t.User, t.Name)
}

// CreateToken implements store.Directory.
func (d *Directory) CreateToken(ctx context.Context, t store.Token) error {
	t, err := store.NormalizeToken(t)
	if err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	return d.write(ctx, "create token", func(tx *sql.Tx) (bool, error) {
		ok, err := d.tokenUserExists(ctx, tx, t.User)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, notAccount(t.User)
		}
		_, err = d.db.exec(ctx, tx, `INSERT INTO directory_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			t.User, t.Name, t.Hash, nanos(t.ExpiresAt), formatPrefixes(t.AllowIPs), nanos(t.CreatedAt))
		if d.db.d.violates(err) {
			return false, d.tokenConflict(err, t)
		}
		return true, d.db.fail("create token", err)
	})
}

// PutToken implements store.Directory.
func (d *Directory) PutToken(ctx context.Context, t store.Token) error {
	t, err := store.NormalizeToken(t)
	if err != nil {
		return err
	}
	return d.write(ctx, "put token", func(tx *sql.Tx) (bool, error) {
		ok, err := d.tokenUserExists(ctx, tx, t.User)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, notAccount(t.User)
		}
		old, err := scanToken(d.db.row(ctx, tx, `SELECT `+tokenCols+` FROM directory_tokens WHERE username = ? AND name = ?`, t.User, t.Name))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, d.db.fail("put token", err)
		}
		allow := formatPrefixes(t.AllowIPs)
		if found && bytes.Equal(old.Hash, t.Hash) && old.ExpiresAt.Equal(t.ExpiresAt) && formatPrefixes(old.AllowIPs) == allow {
			return false, nil
		}
		switch {
		case found:
			t.CreatedAt = old.CreatedAt
		case t.CreatedAt.IsZero():
			t.CreatedAt = time.Now()
		}
		_, err = d.db.exec(ctx, tx, `INSERT INTO directory_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (username, name) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at, allow_ips = excluded.allow_ips`,
			t.User, t.Name, t.Hash, nanos(t.ExpiresAt), allow, nanos(t.CreatedAt))
		if d.db.d.violates(err) {
			return false, d.tokenConflict(err, t)
		}
		return true, d.db.fail("put token", err)
	})
}

// ListTokens implements store.Directory.
func (d *Directory) ListTokens(ctx context.Context, user string) ([]store.Token, error) {
	return list(ctx, d, "list tokens", strings.ToLower(user), d.tokenUserExists,
		`SELECT `+tokenCols+` FROM directory_tokens ORDER BY username, name`,
		`SELECT `+tokenCols+` FROM directory_tokens WHERE username = ? ORDER BY name`, scanToken)
}

// RevokeToken implements store.Directory.
func (d *Directory) RevokeToken(ctx context.Context, user, name string) error {
	user = strings.ToLower(user)
	notFound := store.Errorf(store.ErrNotFound, "“%s” has no token “%s”", user, name)
	return d.write(ctx, "revoke token", func(tx *sql.Tx) (bool, error) {
		if !store.Text(user) || !store.Text(name) {
			return false, notFound
		}
		res, err := d.db.exec(ctx, tx, `DELETE FROM directory_tokens WHERE username = ? AND name = ?`, user, name)
		if err != nil {
			return false, d.db.fail("revoke token", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, cmpErr(d.db.fail("revoke token", err), notFound)
		}
		return true, nil
	})
}

// TokenByHash implements store.Directory.
func (d *Directory) TokenByHash(ctx context.Context, user string, hash []byte) (store.Token, error) {
	user = strings.ToLower(user)
	notFound := store.Errorf(store.ErrNotFound, "no such token")
	if !store.Text(user) {
		return store.Token{}, notFound
	}
	t, err := scanToken(d.db.row(ctx, d.db.db, `SELECT `+tokenCols+` FROM directory_tokens WHERE username = ? AND hash = ?`, user, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, notFound
	}
	if err != nil {
		return store.Token{}, d.db.fail("token by hash", err)
	}
	return t, nil
}
