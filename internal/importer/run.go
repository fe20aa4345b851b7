package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/store"
)

// Importer brings batches into a directory.
type Importer struct {
	// Dir is read to compare; Accounts makes every change (create-only).
	Dir      store.Directory
	Accounts *accounts.Service
	// By is who the changes are made as (the audit trail's actor).
	By accounts.Actor
	// DryRun decides everything as an import would, and changes nothing.
	DryRun bool
}

// Run imports the batches: resellers before the accounts they own, each
// account with its domains and databases, then its mailboxes and tokens,
// then root's tokens. Problems of the batches come first in the report.
// The error is a failure of the store (nothing after it was tried); the
// report holds what was done until then.
func (im *Importer) Run(ctx context.Context, batches ...Batch) (*Report, error) {
	r := &run{im: im, rep: &Report{DryRun: im.DryRun}, claimed: map[string]string{}, planned: map[string]store.Account{}}
	var accts []Account
	var rootTokens []Token
	seen := map[string]Where{}
	seenRoot := map[string]Where{}
	for _, b := range batches {
		for _, p := range b.Problems {
			st := Error
			if p.Warning {
				st = Warning
			}
			r.rep.add(p.Kind, p.Item, st, p.Reason, p.Where)
		}
		for _, a := range b.Accounts {
			u := strings.ToLower(a.User)
			if first, ok := seen[u]; ok {
				r.rep.add(KindAccount, u, Error, "also comes from "+first.String()+"; only that one is imported", a.Source)
				continue
			}
			seen[u] = a.Source
			accts = append(accts, a)
		}
		for _, t := range b.RootTokens {
			if first, ok := seenRoot[t.Name]; ok {
				r.rep.add(KindToken, "root/"+t.Name, Error, "also comes from "+first.String()+"; only that one is imported", t.Source)
				continue
			}
			seenRoot[t.Name] = t.Source
			rootTokens = append(rootTokens, t)
		}
	}
	for _, a := range ownersFirst(accts) {
		if err := r.account(ctx, a); err != nil {
			return r.rep, err
		}
	}
	if err := r.tokens(ctx, store.RootUser, rootTokens); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

// ownersFirst orders accounts so that an account comes after its owner
// when the owner is in the list too (resellers before the accounts they
// own), otherwise by user name.
func ownersFirst(accts []Account) []Account {
	rest := slices.Clone(accts)
	slices.SortStableFunc(rest, func(a, b Account) int { return strings.Compare(strings.ToLower(a.User), strings.ToLower(b.User)) })
	inList := map[string]bool{}
	for _, a := range rest {
		inList[strings.ToLower(a.User)] = true
	}
	placed := map[string]bool{}
	out := make([]Account, 0, len(rest))
	for len(rest) > 0 {
		var next []Account
		for _, a := range rest {
			u, o := strings.ToLower(a.User), strings.ToLower(a.Owner)
			if o == "" || o == store.RootUser || o == u || !inList[o] || placed[o] {
				out = append(out, a)
				placed[u] = true
			} else {
				next = append(next, a)
			}
		}
		if len(next) == len(rest) { // owners in a cycle: the store will refuse them
			out = append(out, next...)
			break
		}
		rest = next
	}
	return out
}

// run is one import in progress.
type run struct {
	im  *Importer
	rep *Report
	// claimed are the domains of accounts this run created (or, in a dry
	// run, would create), and planned those accounts, so that a dry run
	// sees what the import before it would have done.
	claimed map[string]string
	planned map[string]store.Account
}

// failed reports whether err is a failure of the store itself, which
// stops the import.
func failed(err error) bool {
	return err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrInvalid)
}

// domainOwner returns the account owning domain ("" when none), as the
// store has it or as this run claimed it.
func (r *run) domainOwner(ctx context.Context, domain string) (string, error) {
	if u, ok := r.claimed[domain]; ok {
		return u, nil
	}
	u, err := r.im.Dir.DomainOwner(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return u, err
}

// skipChildren reports every mailbox and token of a as not imported.
func (r *run) skipChildren(a Account, s Status, reason string) {
	for _, m := range a.Mailboxes {
		r.rep.add(KindMailbox, strings.ToLower(m.Address), s, reason, m.Source)
	}
	for _, t := range a.Tokens {
		r.rep.add(KindToken, strings.ToLower(a.User)+"/"+t.Name, s, reason, t.Source)
	}
}

// parts reports each domain and database of want with status s, or, when
// have is not nil, unchanged for those have has and s for the others.
func (r *run) parts(want store.Account, src Where, s Status, reason string, have *store.Account) {
	for _, d := range want.Domains {
		if have != nil && slices.Contains(have.Domains, d) {
			r.rep.add(KindDomain, d, Unchanged, "", src)
		} else {
			r.rep.add(KindDomain, d, s, reason, src)
		}
	}
	for _, db := range want.Databases {
		if have != nil && slices.Contains(have.Databases, db) {
			r.rep.add(KindDatabase, db, Unchanged, "", src)
		} else {
			r.rep.add(KindDatabase, db, s, reason, src)
		}
	}
}

// account imports one account, then its mailboxes and tokens.
func (r *run) account(ctx context.Context, a Account) error {
	want, err := store.NormalizeAccount(a.Account)
	user := want.User
	if err != nil {
		r.rep.add(KindAccount, user, Error, err.Error(), a.Source)
		r.skipChildren(a, Error, "its account “"+user+"” was not imported")
		return nil
	}
	// Domains another account has stay with it: the account comes
	// without them, unless it is its main domain.
	kept := want.Domains[:0:0]
	for i, d := range want.Domains {
		owner, err := r.domainOwner(ctx, d)
		if failed(err) {
			return err
		}
		if owner == "" || owner == user {
			kept = append(kept, d)
			continue
		}
		r.rep.add(KindDomain, d, Conflict, "belongs to the account “"+owner+"” in uapid", a.Source)
		if i == 0 {
			r.rep.add(KindAccount, user, Conflict, "its main domain “"+d+"” belongs to the account “"+owner+"” in uapid", a.Source)
			r.skipChildren(a, Conflict, "its account “"+user+"” was not imported")
			return nil
		}
	}
	want.Domains = kept

	have, err := r.im.Dir.GetAccount(ctx, user)
	switch {
	case err == nil:
		return r.existing(ctx, a, want, have)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if r.im.DryRun {
		if msg := r.ownerProblem(ctx, want); msg != "" {
			r.rep.add(KindAccount, user, Error, msg, a.Source)
			r.parts(want, a.Source, Error, "its account “"+user+"” was not imported", nil)
			r.skipChildren(a, Error, "its account “"+user+"” was not imported")
			return nil
		}
	} else {
		created, err := r.im.Accounts.Create(ctx, want, r.im.By)
		switch {
		case errors.Is(err, store.ErrExists) && store.FieldOf(err) == "user":
			// Created meanwhile by another process: compare with it.
			have, err := r.im.Dir.GetAccount(ctx, user)
			if err != nil {
				return err
			}
			return r.existing(ctx, a, want, have)
		case errors.Is(err, store.ErrExists):
			r.rep.add(KindAccount, user, Conflict, err.Error(), a.Source)
			r.parts(want, a.Source, Conflict, "its account “"+user+"” was not imported", nil)
			r.skipChildren(a, Conflict, "its account “"+user+"” was not imported")
			return nil
		case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
			r.rep.add(KindAccount, user, Error, err.Error(), a.Source)
			r.parts(want, a.Source, Error, "its account “"+user+"” was not imported", nil)
			r.skipChildren(a, Error, "its account “"+user+"” was not imported")
			return nil
		case err != nil:
			return err
		}
		want = created
	}
	for _, d := range want.Domains {
		r.claimed[d] = user
	}
	r.planned[user] = want
	r.rep.add(KindAccount, user, Imported, "", a.Source)
	r.parts(want, a.Source, Imported, "", nil)
	return r.children(ctx, a, want, true)
}

// ownerProblem says, for a dry run, why want's owner could not own it (""
// when it could): the owner must be root, want itself (a reseller), or a
// reseller in uapid or among the accounts this run would create.
func (r *run) ownerProblem(ctx context.Context, want store.Account) string {
	if want.Owner == store.RootUser || want.Owner == want.User {
		return ""
	}
	o, ok := r.planned[want.Owner]
	if !ok {
		var err error
		if o, err = r.im.Dir.GetAccount(ctx, want.Owner); err != nil {
			return "owner “" + want.Owner + "” does not exist"
		}
	}
	if !o.Reseller {
		return "owner “" + want.Owner + "” is not a reseller"
	}
	return ""
}

// existing compares want with the account uapid has: equal is unchanged
// (and its mailboxes and tokens are looked at), different a conflict
// (nothing of it is touched).
func (r *run) existing(ctx context.Context, a Account, want, have store.Account) error {
	user := want.User
	if diff := accountDiff(want, have); len(diff) > 0 {
		r.rep.add(KindAccount, user, Conflict, "an account “"+user+"” exists in uapid with another "+strings.Join(diff, ", "), a.Source)
		r.parts(want, a.Source, Conflict, "the account “"+user+"” in uapid does not have it", &have)
		r.skipChildren(a, Conflict, "the account “"+user+"” in uapid differs from the imported one; its mailboxes and tokens are left alone")
		return nil
	}
	r.rep.add(KindAccount, user, Unchanged, "", a.Source)
	r.parts(want, a.Source, Unchanged, "", &have)
	return r.children(ctx, a, have, false)
}

// accountDiff names what differs between two accounts (never a value).
func accountDiff(want, have store.Account) []string {
	var d []string
	add := func(differs bool, what string) {
		if differs {
			d = append(d, what)
		}
	}
	add(want.PasswordHash != have.PasswordHash, "password")
	add(!slices.Equal(want.Domains, have.Domains), "list of domains")
	add(!slices.Equal(want.Databases, have.Databases), "list of databases")
	add(want.Owner != have.Owner, "owner")
	add(want.Reseller != have.Reseller, "reseller status")
	add(want.Locale != have.Locale, "locale")
	add(want.Plan != have.Plan, "plan")
	add(want.ContactEmail != have.ContactEmail, "contact address")
	add(want.Suspended != have.Suspended || want.SuspendReason != have.SuspendReason ||
		!want.SuspendedAt.Equal(have.SuspendedAt) || want.SuspendLocked != have.SuspendLocked, "suspension")
	add(!slices.Equal(want.ACLs, have.ACLs), "reseller privileges")
	add(want.Limits != have.Limits, "limits")
	return d
}

// children imports the mailboxes and tokens of account acct (as stored,
// or as it would be); created says whether this run created it.
func (r *run) children(ctx context.Context, a Account, acct store.Account, created bool) error {
	for _, m := range a.Mailboxes {
		if err := r.mailbox(ctx, acct, m, created); err != nil {
			return err
		}
	}
	return r.tokens(ctx, acct.User, a.Tokens)
}

// mailbox imports one mailbox of acct.
func (r *run) mailbox(ctx context.Context, acct store.Account, mb Mailbox, created bool) error {
	m := mb.Mailbox
	m.Account = acct.User
	m, domain, err := store.NormalizeMailbox(m)
	if err != nil {
		r.rep.add(KindMailbox, m.Address, Error, err.Error(), mb.Source)
		return nil
	}
	if !slices.Contains(acct.Domains, domain) {
		owner, err := r.domainOwner(ctx, domain)
		if failed(err) {
			return err
		}
		if owner != "" && owner != acct.User {
			r.rep.add(KindMailbox, m.Address, Conflict, "its domain belongs to the account “"+owner+"” in uapid", mb.Source)
		} else {
			r.rep.add(KindMailbox, m.Address, Error, "its domain “"+domain+"” is not a domain of the account “"+acct.User+"”", mb.Source)
		}
		return nil
	}
	if !created || !r.im.DryRun {
		have, err := r.im.Dir.GetMailbox(ctx, m.Address)
		switch {
		case err == nil:
			r.compareMailbox(m, have, mb.Source)
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if !r.im.DryRun {
		err := r.im.Accounts.AddMailbox(ctx, m, r.im.By)
		switch {
		case errors.Is(err, store.ErrExists):
			have, err := r.im.Dir.GetMailbox(ctx, m.Address)
			if err != nil {
				return err
			}
			r.compareMailbox(m, have, mb.Source)
			return nil
		case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
			r.rep.add(KindMailbox, m.Address, Error, err.Error(), mb.Source)
			return nil
		case err != nil:
			return err
		}
	}
	r.rep.add(KindMailbox, m.Address, Imported, "", mb.Source)
	return nil
}

func (r *run) compareMailbox(want, have store.Mailbox, src Where) {
	var diff []string
	if have.Account != want.Account {
		r.rep.add(KindMailbox, want.Address, Conflict, "belongs to the account “"+have.Account+"” in uapid", src)
		return
	}
	if have.PasswordHash != want.PasswordHash {
		diff = append(diff, "password")
	}
	if have.SuspendedLogin != want.SuspendedLogin {
		diff = append(diff, "login suspension")
	}
	if have.Quota != want.Quota {
		diff = append(diff, "quota")
	}
	if len(diff) > 0 {
		r.rep.add(KindMailbox, want.Address, Conflict, "exists in uapid with another "+strings.Join(diff, ", "), src)
		return
	}
	r.rep.add(KindMailbox, want.Address, Unchanged, "", src)
}

// tokens imports the API tokens of user (root or an account).
func (r *run) tokens(ctx context.Context, user string, ts []Token) error {
	if len(ts) == 0 {
		return nil
	}
	var have []store.Token
	if _, planned := r.planned[user]; !planned || !r.im.DryRun {
		var err error
		have, err = r.im.Dir.ListTokens(ctx, user)
		if failed(err) {
			return err
		}
	}
	for _, tk := range ts {
		t := tk.Token
		t.User = user
		item := user + "/" + t.Name
		t, err := store.NormalizeToken(t)
		if err != nil {
			r.rep.add(KindToken, item, Error, err.Error(), tk.Source)
			continue
		}
		if s, reason := compareToken(t, have); s != "" {
			r.rep.add(KindToken, item, s, reason, tk.Source)
			continue
		}
		if !r.im.DryRun {
			_, err := r.im.Accounts.ImportToken(ctx, t, r.im.By)
			switch {
			case errors.Is(err, store.ErrExists):
				if have, err = r.im.Dir.ListTokens(ctx, user); err != nil {
					return err
				}
				s, reason := compareToken(t, have)
				if s == "" {
					s, reason = Conflict, "another token of “"+user+"” was created meanwhile with its name or secret"
				}
				r.rep.add(KindToken, item, s, reason, tk.Source)
				continue
			case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
				r.rep.add(KindToken, item, Error, err.Error(), tk.Source)
				continue
			case err != nil:
				return err
			}
		}
		have = append(have, t)
		r.rep.add(KindToken, item, Imported, "", tk.Source)
	}
	return nil
}

// compareToken decides about t from the tokens its user has: unchanged
// (the same name, secret, expiry and allow-list), a conflict (the name or
// the secret taken otherwise), or "" (absent: to import).
func compareToken(t store.Token, have []store.Token) (Status, string) {
	for _, h := range have {
		if h.Name != t.Name {
			if bytes.Equal(h.Hash, t.Hash) {
				return Conflict, fmt.Sprintf("the token “%s” of “%s” in uapid has the same secret", h.Name, t.User)
			}
			continue
		}
		var diff []string
		if !bytes.Equal(h.Hash, t.Hash) {
			diff = append(diff, "secret")
		}
		if !h.ExpiresAt.Equal(t.ExpiresAt) {
			diff = append(diff, "expiry")
		}
		if !slices.Equal(prefixes(h.AllowIPs), prefixes(t.AllowIPs)) {
			diff = append(diff, "address allow-list")
		}
		if len(diff) > 0 {
			return Conflict, "a token of that name exists in uapid with another " + strings.Join(diff, ", ")
		}
		return Unchanged, ""
	}
	return "", ""
}

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
