package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// The Directory also implements store.Packages: packages and ACL lists
// live in the same database and change in the same serialised write
// transactions as the accounts (removing or renaming a reseller takes its
// packages along).
var _ store.Packages = (*Directory)(nil)

// Packages returns the package store (the directory itself).
func (db *DB) Packages() *Directory { return db.Directory() }

const packageCols = `name, owner, language, created_at, ` + limitCols

func scanPackage(sc scanner) (store.Package, error) {
	var p store.Package
	var created int64
	err := sc.Scan(append([]any{&p.Name, &p.Owner, &p.Language, &created}, limitDest(&p.Limits)...)...)
	p.CreatedAt = fromNanos(created)
	return p, err
}

func notPackage(name string) error {
	return store.Errorf(store.ErrNotFound, "the package “%s” does not exist", name)
}

func (d *Directory) loadPackage(ctx context.Context, q querier, name string) (store.Package, bool, error) {
	if !store.Text(name) {
		return store.Package{}, false, nil
	}
	p, err := scanPackage(d.db.row(ctx, q, `SELECT `+packageCols+` FROM directory_packages WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Package{}, false, nil
	}
	return p, err == nil, d.db.fail("get package", err)
}

// checkPackageOwner checks that owner is root or an existing reseller.
func (d *Directory) checkPackageOwner(ctx context.Context, tx *sql.Tx, owner string) error {
	if owner == store.RootUser {
		return nil
	}
	var reseller bool
	err := d.db.row(ctx, tx, `SELECT reseller FROM directory_accounts WHERE username = ?`, owner).Scan(&reseller)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && !reseller:
		return store.Errorf(store.ErrInvalid, "the owner “%s” of a package must be root or a reseller", owner)
	case err != nil:
		return d.db.fail("check package owner", err)
	}
	return nil
}

// CreatePackage implements store.Packages.
func (d *Directory) CreatePackage(ctx context.Context, p store.Package) error {
	p, err := store.NormalizePackage(p)
	if err != nil {
		return err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	return d.write(ctx, "create package", func(tx *sql.Tx) (bool, error) {
		if err := d.checkPackageOwner(ctx, tx, p.Owner); err != nil {
			return false, err
		}
		_, err := d.db.exec(ctx, tx, `INSERT INTO directory_packages (`+packageCols+`) VALUES (`+placeholders(4+limitCount)+`)`,
			append([]any{p.Name, p.Owner, p.Language, nanos(p.CreatedAt)}, limitArgs(p.Limits)...)...)
		if d.db.d.violates(err) {
			return false, store.FieldErrorf(store.ErrExists, "name", "the package “%s” already exists", p.Name)
		}
		return true, d.db.fail("create package", err)
	})
}

// GetPackage implements store.Packages.
func (d *Directory) GetPackage(ctx context.Context, name string) (store.Package, error) {
	p, found, err := d.loadPackage(ctx, d.db.db, name)
	if err == nil && !found {
		err = notPackage(name)
	}
	return p, err
}

// ListPackages implements store.Packages.
func (d *Directory) ListPackages(ctx context.Context) ([]store.Package, error) {
	rows, err := d.db.query(ctx, d.db.db, `SELECT `+packageCols+` FROM directory_packages ORDER BY name`)
	if err != nil {
		return nil, d.db.fail("list packages", err)
	}
	defer rows.Close()
	var out []store.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, d.db.fail("list packages", err)
		}
		out = append(out, p)
	}
	return out, d.db.fail("list packages", rows.Err())
}

// UpdatePackage implements store.Packages.
func (d *Directory) UpdatePackage(ctx context.Context, name string, fn func(*store.Package) error) (store.Package, error) {
	var out store.Package
	err := d.write(ctx, "update package", func(tx *sql.Tx) (bool, error) {
		old, found, err := d.loadPackage(ctx, tx, name)
		if err != nil {
			return false, err
		}
		if !found {
			return false, notPackage(name)
		}
		p := old
		if err := fn(&p); err != nil {
			return false, err
		}
		if p.Name != old.Name || p.Owner != old.Owner {
			return false, store.Errorf(store.ErrInvalid, "the name and owner of package “%s” cannot change", old.Name)
		}
		if p, err = store.NormalizePackage(p); err != nil {
			return false, err
		}
		p.CreatedAt = old.CreatedAt
		out = p
		if p == old {
			return false, nil
		}
		_, err = d.db.exec(ctx, tx, `UPDATE directory_packages SET language = ?, `+limitSet+` WHERE name = ?`,
			append(append([]any{p.Language}, limitArgs(p.Limits)...), p.Name)...)
		return true, d.db.fail("update package", err)
	})
	if err != nil {
		return store.Package{}, err
	}
	return out, nil
}

// RemovePackage implements store.Packages.
func (d *Directory) RemovePackage(ctx context.Context, name string) error {
	return d.write(ctx, "remove package", func(tx *sql.Tx) (bool, error) {
		if !store.Text(name) {
			return false, notPackage(name)
		}
		res, err := d.db.exec(ctx, tx, `DELETE FROM directory_packages WHERE name = ?`, name)
		if err != nil {
			return false, d.db.fail("remove package", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, cmpErr(d.db.fail("remove package", err), notPackage(name))
		}
		return true, nil
	})
}

// PutACLList implements store.Packages.
func (d *Directory) PutACLList(ctx context.Context, l store.ACLList) error {
	l, err := store.NormalizeACLList(l)
	if err != nil {
		return err
	}
	return d.write(ctx, "save acl list", func(tx *sql.Tx) (bool, error) {
		_, err := d.db.exec(ctx, tx, `INSERT INTO directory_acl_lists (name, acls) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET acls = excluded.acls`, l.Name, joinACLs(l.ACLs))
		return true, d.db.fail("save acl list", err)
	})
}

// ListACLLists implements store.Packages.
func (d *Directory) ListACLLists(ctx context.Context) ([]store.ACLList, error) {
	rows, err := d.db.query(ctx, d.db.db, `SELECT name, acls FROM directory_acl_lists ORDER BY name`)
	if err != nil {
		return nil, d.db.fail("list acl lists", err)
	}
	defer rows.Close()
	var out []store.ACLList
	for rows.Next() {
		var l store.ACLList
		var acls string
		if err := rows.Scan(&l.Name, &acls); err != nil {
			return nil, d.db.fail("list acl lists", err)
		}
		l.ACLs = splitACLs(acls)
		out = append(out, l)
	}
	return out, d.db.fail("list acl lists", rows.Err())
}

// ---- renaming ----

// RenameAccount implements store.Directory.
func (d *Directory) RenameAccount(ctx context.Context, user string, to store.Rename, fn func(*store.Account) error) (store.Account, error) {
	user = strings.ToLower(user)
	newUser := strings.ToLower(to.User)
	newDomain := strings.ToLower(to.Domain)
	var out store.Account
	err := d.write(ctx, "rename account", func(tx *sql.Tx) (bool, error) {
		cur, found, err := d.loadAccount(ctx, tx, user)
		if err != nil {
			return false, err
		}
		if !found {
			return false, notAccount(user)
		}
		created := cur.CreatedAt
		if newUser != "" && newUser != cur.User {
			if cur, err = d.moveUser(ctx, tx, cur, newUser); err != nil {
				return false, err
			}
		}
		if newDomain != "" && (len(cur.Domains) == 0 || newDomain != cur.Domains[0]) {
			if cur, err = d.moveMainDomain(ctx, tx, cur, newDomain); err != nil {
				return false, err
			}
		}
		a := cur
		a.Domains, a.Databases, a.ACLs = slices.Clone(cur.Domains), slices.Clone(cur.Databases), slices.Clone(cur.ACLs)
		if fn != nil {
			if err := fn(&a); err != nil {
				return false, err
			}
		}
		if strings.ToLower(a.User) != cur.User {
			return false, store.Errorf(store.ErrInvalid, "the user name of account “%s” cannot change here", cur.User)
		}
		if a, err = store.NormalizeAccount(a); err != nil {
			return false, err
		}
		a.CreatedAt = created
		out = a
		_, err = d.replaceAccount(ctx, tx, cur, a)
		return true, err
	})
	if err != nil {
		return store.Account{}, err
	}
	return out, nil
}

// moveUser renames account a to newUser with everything that names it
// and returns the account as stored under its new name.
func (d *Directory) moveUser(ctx context.Context, tx *sql.Tx, a store.Account, newUser string) (store.Account, error) {
	old := a.User
	if newUser == store.RootUser || !store.ValidUser(newUser) {
		return a, store.Errorf(store.ErrInvalid, "“%s” is not a valid user name (a lower-case letter followed by up to 15 lower-case letters or digits)", newUser)
	}
	n := a
	n.User = newUser
	if a.Owner == old {
		n.Owner = newUser
	}
	n.Databases = make([]string, len(a.Databases))
	for i, db := range a.Databases {
		n.Databases[i] = newUser + "_" + strings.TrimPrefix(db, old+"_")
	}
	n, err := store.NormalizeAccount(n)
	if err != nil {
		return a, err
	}
	n.CreatedAt = a.CreatedAt
	_, err = d.db.exec(ctx, tx, `INSERT INTO directory_accounts (`+accountCols+`) VALUES (`+placeholders(13+limitCount)+`)`, accountArgs(n)...)
	if d.db.d.violates(err) {
		return a, store.FieldErrorf(store.ErrExists, "user", "the account “%s” already exists", newUser)
	}
	if err != nil {
		return a, d.db.fail("rename account", err)
	}
	if _, err := d.db.exec(ctx, tx, `DELETE FROM directory_databases WHERE account = ?`, old); err != nil {
		return a, d.db.fail("rename account", err)
	}
	for _, q := range []string{
		`UPDATE directory_domains SET account = ? WHERE account = ?`,
		`UPDATE directory_mailboxes SET account = ? WHERE account = ?`,
		`UPDATE directory_tokens SET username = ? WHERE username = ?`,
		`UPDATE directory_accounts SET owner = ? WHERE owner = ?`,
	} {
		if _, err := d.db.exec(ctx, tx, q, newUser, old); err != nil {
			return a, d.db.fail("rename account", err)
		}
	}
	for i, db := range n.Databases {
		if _, err := d.db.exec(ctx, tx, `INSERT INTO directory_databases (account, name, position) VALUES (?, ?, ?)`, newUser, db, i); err != nil {
			return a, d.db.fail("rename account", err)
		}
	}
	pkgs, err := d.strings1(ctx, tx, `SELECT name FROM directory_packages WHERE owner = ? ORDER BY name`, old)
	if err != nil {
		return a, d.db.fail("rename account", err)
	}
	for _, p := range pkgs {
		np := newUser + "_" + strings.TrimPrefix(p, old+"_")
		if !store.ValidPackageName(np) {
			return a, store.Errorf(store.ErrInvalid, "the package “%s” of “%s” cannot be renamed to “%s”", p, old, np)
		}
		_, err := d.db.exec(ctx, tx, `UPDATE directory_packages SET name = ?, owner = ? WHERE name = ?`, np, newUser, p)
		if d.db.d.violates(err) {
			return a, store.FieldErrorf(store.ErrExists, "package", "the package “%s” already exists", np)
		}
		if err != nil {
			return a, d.db.fail("rename account", err)
		}
		if _, err := d.db.exec(ctx, tx, `UPDATE directory_accounts SET plan = ? WHERE plan = ?`, np, p); err != nil {
			return a, d.db.fail("rename account", err)
		}
	}
	if _, err := d.db.exec(ctx, tx, `DELETE FROM directory_accounts WHERE username = ?`, old); err != nil {
		return a, d.db.fail("rename account", err)
	}
	moved, _, err := d.loadAccount(ctx, tx, newUser)
	return moved, err
}

// moveMainDomain replaces a's main domain with domain and moves the
// mailboxes of the old main domain to it.
func (d *Directory) moveMainDomain(ctx context.Context, tx *sql.Tx, a store.Account, domain string) (store.Account, error) {
	if !store.ValidDomain(domain) {
		return a, store.Errorf(store.ErrInvalid, "“%s” is not a valid domain name", domain)
	}
	if slices.Contains(a.Domains, domain) {
		return a, store.FieldErrorf(store.ErrExists, "domain", "domain “%s” already belongs to “%s”", domain, a.User)
	}
	if len(a.Domains) == 0 {
		_, err := d.db.exec(ctx, tx, `INSERT INTO directory_domains (domain, account, position) VALUES (?, ?, 0)`, domain, a.User)
		if d.db.d.violates(err) {
			return a, store.FieldErrorf(store.ErrExists, "domain", "domain “%s” belongs to another account", domain)
		}
		a.Domains = []string{domain}
		return a, d.db.fail("change domain", err)
	}
	old := a.Domains[0]
	if _, err := d.db.exec(ctx, tx, `DELETE FROM directory_domains WHERE domain = ?`, old); err != nil {
		return a, d.db.fail("change domain", err)
	}
	_, err := d.db.exec(ctx, tx, `INSERT INTO directory_domains (domain, account, position) VALUES (?, ?, 0)`, domain, a.User)
	if d.db.d.violates(err) {
		return a, store.FieldErrorf(store.ErrExists, "domain", "domain “%s” belongs to another account", domain)
	}
	if err != nil {
		return a, d.db.fail("change domain", err)
	}
	_, err = d.db.exec(ctx, tx, `UPDATE directory_mailboxes SET address = substr(address, 1, length(address) - ?) || ?, domain = ?
		WHERE domain = ?`, len(old), domain, domain, old)
	if d.db.d.violates(err) {
		return a, store.FieldErrorf(store.ErrExists, "address", "a mailbox of “%s” already exists", domain)
	}
	if err != nil {
		return a, d.db.fail("change domain", err)
	}
	a.Domains = append([]string{domain}, a.Domains[1:]...)
	return a, nil
}
