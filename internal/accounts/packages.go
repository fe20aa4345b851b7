package accounts

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store"
)

// ---- packages ----

// ErrNoPackages: the service has no package store.
var ErrNoPackages = errors.New("this store keeps no hosting packages")

func (s *Service) packages() (store.Packages, error) {
	if s.Packages == nil {
		return nil, ErrNoPackages
	}
	return s.Packages, nil
}

// CreatePackage creates p (store.ErrExists when its name is taken).
func (s *Service) CreatePackage(ctx context.Context, p store.Package, by Actor) (store.Package, error) {
	ps, err := s.packages()
	if err != nil {
		return store.Package{}, err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	if err := ps.CreatePackage(ctx, p); err != nil {
		return store.Package{}, err
	}
	s.log(ctx, audit.PackageCreate, by, p.Name, "owner "+p.Owner)
	return ps.GetPackage(ctx, p.Name)
}

// EditPackage changes the package name with fn and applies its new
// limits to the accounts that use it and that by manages (root: all; a
// reseller: the accounts it owns), as cPanel does. It returns the package
// and the accounts it updated.
func (s *Service) EditPackage(ctx context.Context, name string, fn func(*store.Package) error, by Actor) (store.Package, []string, error) {
	ps, err := s.packages()
	if err != nil {
		return store.Package{}, nil, err
	}
	p, err := ps.UpdatePackage(ctx, name, fn)
	if err != nil {
		return store.Package{}, nil, err
	}
	s.log(ctx, audit.PackageEdit, by, p.Name, "")
	all, err := s.Dir.ListAccounts(ctx)
	if err != nil {
		return p, nil, err
	}
	var updated []string
	for _, a := range all {
		if a.Plan != p.Name || (!by.Root() && a.Owner != by.User) {
			continue
		}
		if _, err := s.Dir.UpdateAccount(ctx, a.User, func(a *store.Account) error {
			if a.Plan == p.Name {
				a.Limits = p.Limits
			}
			return nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return p, updated, err
		}
		updated = append(updated, a.User)
	}
	return p, updated, nil
}

// RemovePackage removes the package name; accounts keep their plan name
// and limits.
func (s *Service) RemovePackage(ctx context.Context, name string, by Actor) error {
	ps, err := s.packages()
	if err != nil {
		return err
	}
	if err := ps.RemovePackage(ctx, name); err != nil {
		return err
	}
	s.log(ctx, audit.PackageRemove, by, name, "")
	return nil
}

// ChangePackage gives user the package p: its name as the plan and its
// limits. No session ends.
func (s *Service) ChangePackage(ctx context.Context, user string, p store.Package, by Actor) (store.Account, error) {
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		a.Plan, a.Limits = p.Name, p.Limits
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.AccountPackage, by, a.User, "package "+p.Name)
	return a, nil
}

// SaveACLList creates or replaces the named ACL list.
func (s *Service) SaveACLList(ctx context.Context, l store.ACLList, by Actor) error {
	ps, err := s.packages()
	if err != nil {
		return err
	}
	if err := ps.PutACLList(ctx, l); err != nil {
		return err
	}
	s.log(ctx, audit.ACLListSave, by, l.Name, strings.Join(l.ACLs, ","))
	return nil
}

// ---- account changes ----

// Modify changes user: a new user name or main domain (to; "" keeps
// either) and whatever fn changes, in one store transaction. A rename or
// a new main domain ends every session of the account (sessions and
// mailbox addresses name the old ones); other changes end none. It
// returns the account as stored and how many sessions ended.
func (s *Service) Modify(ctx context.Context, user string, to store.Rename, fn func(*store.Account) error, by Actor, what string) (store.Account, int, error) {
	user = strings.ToLower(user)
	if to.User == "" && to.Domain == "" {
		a, err := s.Dir.UpdateAccount(ctx, user, fn)
		if err != nil {
			return store.Account{}, 0, err
		}
		s.log(ctx, audit.AccountModify, by, a.User, what)
		return a, 0, nil
	}
	a, err := s.Dir.RenameAccount(ctx, user, to, fn)
	if err != nil {
		return store.Account{}, 0, err
	}
	if a.User != user {
		what = strings.TrimSpace("renamed from " + user + "; " + what)
	}
	s.log(ctx, audit.AccountModify, by, a.User, strings.TrimSuffix(what, "; "))
	n, err := s.end(ctx, user, "", "account renamed")
	if err != nil {
		return a, n, err
	}
	if a.User != user {
		m, err := s.end(ctx, a.User, "", "account renamed")
		return a, n + m, err
	}
	return a, n, nil
}

// SetupReseller makes user a reseller (owning itself when ownSelf) with
// the privileges it has (none for a new reseller, as in cPanel).
func (s *Service) SetupReseller(ctx context.Context, user string, ownSelf bool, by Actor) (store.Account, error) {
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		a.Reseller = true
		if ownSelf {
			a.Owner = a.User
		}
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.ResellerSetup, by, a.User, "")
	return a, nil
}

// UnsetupReseller takes user's reseller privileges (and ACLs) away. A
// reseller that still owns accounts is refused (store.ErrInvalid); one
// that owned itself becomes root's.
func (s *Service) UnsetupReseller(ctx context.Context, user string, by Actor) (store.Account, error) {
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		a.Reseller, a.ACLs = false, nil
		if a.Owner == a.User {
			a.Owner = store.RootUser
		}
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.ResellerUnsetup, by, a.User, "")
	return a, nil
}

// SetACLs replaces the privileges of the reseller user.
func (s *Service) SetACLs(ctx context.Context, user string, acls []string, by Actor) (store.Account, error) {
	a, err := s.Dir.UpdateAccount(ctx, user, func(a *store.Account) error {
		if !a.Reseller {
			return store.Errorf(store.ErrInvalid, "“%s” is not a reseller", a.User)
		}
		a.ACLs = slices.Clone(acls)
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	s.log(ctx, audit.ResellerACLs, by, a.User, strings.Join(a.ACLs, ","))
	return a, nil
}

// Owned lists the accounts reseller owns, itself excepted, sorted.
func (s *Service) Owned(ctx context.Context, reseller string) ([]store.Account, error) {
	all, err := s.Dir.ListAccounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Account
	for _, a := range all {
		if a.Owner == reseller && a.User != reseller {
			out = append(out, a)
		}
	}
	return out, nil
}
