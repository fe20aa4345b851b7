package storetest

// An in-memory implementation of the four interfaces, to prove the suite
// sound against something that keeps the contract. It is a test fake: one
// mutex makes every method one atomic step (the "transaction"), and Pair's
// two handles share one state.

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
)

type memState struct {
	mu sync.Mutex

	// Directory.
	gen       int64
	root      string
	accounts  map[string]store.Account // by user
	domains   map[string]string        // domain -> user
	mailboxes map[string]store.Mailbox // by address
	tokens    map[tokenKey]store.Token

	// Sessions.
	sessions map[string]store.Session

	// Ledger.
	temp map[string]tempEntry

	// Attempts.
	attempts map[store.AttemptKey]*attemptRec
	trusts   map[[2]string]time.Time

	// OAuth (memory_oauth_test.go).
	oauth *memOAuth
}

type tokenKey struct{ user, name string }

type tempEntry struct {
	u  store.TempUser
	at time.Time
}

type attemptRec struct {
	failures []time.Time
	until    time.Time
	forget   time.Time
	strikes  int
}

func newMemState() *memState {
	return &memState{
		accounts:  map[string]store.Account{},
		domains:   map[string]string{},
		mailboxes: map[string]store.Mailbox{},
		tokens:    map[tokenKey]store.Token{},
		sessions:  map[string]store.Session{},
		temp:      map[string]tempEntry{},
		attempts:  map[store.AttemptKey]*attemptRec{},
		trusts:    map[[2]string]time.Time{},
	}
}

// memHandle is one handle on a memState.
type memHandle struct{ s *memState }

// lock takes the state's lock unless ctx is done.
func (h *memHandle) lock(ctx context.Context) (*memState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.s.mu.Lock()
	return h.s, nil
}

func now() time.Time { return time.Now().UTC().Round(0) }

// ---- Directory ----

func cloneAccount(a store.Account) store.Account {
	a.Domains = slices.Clone(a.Domains)
	a.Databases = slices.Clone(a.Databases)
	a.ACLs = slices.Clone(a.ACLs)
	return a
}

func notFoundAccount(user string) error {
	return store.Errorf(store.ErrNotFound, "account “%s” does not exist", user)
}

func (h *memHandle) RootPasswordHash(ctx context.Context) (string, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	return s.root, nil
}

func (h *memHandle) SetRootPasswordHash(ctx context.Context, hash string) error {
	if !store.ValidPasswordHash(hash) {
		return store.Errorf(store.ErrInvalid, "root's password hash is not a valid crypt string")
	}
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.root != hash {
		s.root = hash
		s.gen++
	}
	return nil
}

func (h *memHandle) GetAccount(ctx context.Context, user string) (store.Account, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Account{}, err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	a, ok := s.accounts[user]
	if !ok {
		return store.Account{}, notFoundAccount(user)
	}
	return cloneAccount(a), nil
}

func (h *memHandle) ListAccounts(ctx context.Context) ([]store.Account, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Account
	for _, u := range slices.Sorted(maps.Keys(s.accounts)) {
		out = append(out, cloneAccount(s.accounts[u]))
	}
	return out, nil
}

// checkAccount applies the rules that need other records to a (normalised),
// replacing prev (nil: a new account). The caller holds the lock.
func (s *memState) checkAccount(a store.Account, prev *store.Account) error {
	if a.Owner != store.RootUser && a.Owner != a.User {
		o, ok := s.accounts[a.Owner]
		switch {
		case !ok:
			return store.Errorf(store.ErrInvalid, "owner “%s” does not exist", a.Owner)
		case !o.Reseller:
			return store.Errorf(store.ErrInvalid, "owner “%s” is not a reseller", a.Owner)
		}
	}
	if prev != nil && prev.Reseller && !a.Reseller {
		if owned := s.owned(a.User); len(owned) > 0 {
			return store.Errorf(store.ErrInvalid, "“%s” cannot stop being a reseller while it owns accounts (%s)", a.User, store.ListNames(owned))
		}
	}
	for _, d := range a.Domains {
		if o, ok := s.domains[d]; ok && o != a.User {
			return store.Errorf(store.ErrExists, "domain “%s” belongs to another account", d)
		}
	}
	if prev != nil {
		for _, d := range prev.Domains {
			if slices.Contains(a.Domains, d) {
				continue
			}
			for _, m := range s.mailboxes {
				if _, md, _ := store.SplitAddress(m.Address); md == d {
					return store.Errorf(store.ErrInvalid, "domain “%s” cannot be removed from “%s” while it has mailboxes", d, a.User)
				}
			}
		}
	}
	return nil
}

// owned returns the accounts other than user that user owns.
func (s *memState) owned(user string) []string {
	var out []string
	for _, u := range slices.Sorted(maps.Keys(s.accounts)) {
		if u != user && s.accounts[u].Owner == user {
			out = append(out, u)
		}
	}
	return out
}

// storeAccount writes a (checked) over prev.
func (s *memState) storeAccount(a store.Account, prev *store.Account) {
	if prev != nil {
		for _, d := range prev.Domains {
			delete(s.domains, d)
		}
	}
	for _, d := range a.Domains {
		s.domains[d] = a.User
	}
	s.accounts[a.User] = cloneAccount(a)
	s.gen++
}

func (h *memHandle) CreateAccount(ctx context.Context, a store.Account) error {
	a, err := store.NormalizeAccount(a)
	if err != nil {
		return err
	}
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.accounts[a.User]; ok {
		return store.Errorf(store.ErrExists, "account “%s” already exists", a.User)
	}
	if err := s.checkAccount(a, nil); err != nil {
		return err
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	s.storeAccount(a, nil)
	return nil
}

func (h *memHandle) UpdateAccount(ctx context.Context, user string, fn func(*store.Account) error) (store.Account, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Account{}, err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	prev, ok := s.accounts[user]
	if !ok {
		return store.Account{}, notFoundAccount(user)
	}
	a := cloneAccount(prev)
	if err := fn(&a); err != nil {
		return store.Account{}, err
	}
	a, err = store.NormalizeAccount(a)
	if err != nil {
		return store.Account{}, err
	}
	if a.User != user {
		return store.Account{}, store.Errorf(store.ErrInvalid, "the user of account “%s” cannot change", user)
	}
	a.CreatedAt = prev.CreatedAt
	if store.SameAccount(a, prev) {
		return cloneAccount(prev), nil
	}
	if err := s.checkAccount(a, &prev); err != nil {
		return store.Account{}, err
	}
	s.storeAccount(a, &prev)
	return cloneAccount(a), nil
}

func (h *memHandle) PutAccount(ctx context.Context, a store.Account) error {
	a, err := store.NormalizeAccount(a)
	if err != nil {
		return err
	}
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	prev, ok := s.accounts[a.User]
	if !ok {
		if err := s.checkAccount(a, nil); err != nil {
			return err
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = now()
		}
		s.storeAccount(a, nil)
		return nil
	}
	a.CreatedAt = prev.CreatedAt
	if store.SameAccount(a, prev) {
		return nil
	}
	if err := s.checkAccount(a, &prev); err != nil {
		return err
	}
	s.storeAccount(a, &prev)
	return nil
}

func (h *memHandle) RemoveAccount(ctx context.Context, user string) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	a, ok := s.accounts[user]
	if !ok {
		return notFoundAccount(user)
	}
	if owned := s.owned(user); len(owned) > 0 {
		return store.Errorf(store.ErrInvalid, "reseller “%s” still owns accounts (%s)", user, store.ListNames(owned))
	}
	for _, d := range a.Domains {
		delete(s.domains, d)
	}
	for addr, m := range s.mailboxes {
		if m.Account == user {
			delete(s.mailboxes, addr)
		}
	}
	for k := range s.tokens {
		if k.user == user {
			delete(s.tokens, k)
		}
	}
	delete(s.accounts, user)
	s.gen++
	return nil
}

func (h *memHandle) DomainOwner(ctx context.Context, domain string) (string, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	domain = strings.ToLower(domain)
	o, ok := s.domains[domain]
	if !ok {
		return "", store.Errorf(store.ErrNotFound, "domain “%s” does not belong to any account", domain)
	}
	return o, nil
}

func (h *memHandle) GetMailbox(ctx context.Context, address string) (store.Mailbox, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Mailbox{}, err
	}
	defer s.mu.Unlock()
	address = strings.ToLower(address)
	m, ok := s.mailboxes[address]
	if !ok {
		return store.Mailbox{}, store.Errorf(store.ErrNotFound, "mailbox “%s” does not exist", address)
	}
	return m, nil
}

func (h *memHandle) ListMailboxes(ctx context.Context, account string) ([]store.Mailbox, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	account = strings.ToLower(account)
	if _, ok := s.accounts[account]; account != "" && !ok {
		return nil, notFoundAccount(account)
	}
	var out []store.Mailbox
	for _, addr := range slices.Sorted(maps.Keys(s.mailboxes)) {
		if m := s.mailboxes[addr]; account == "" || m.Account == account {
			out = append(out, m)
		}
	}
	return out, nil
}

// checkMailbox normalises m and applies the rules; the caller holds the lock.
func (s *memState) checkMailbox(m store.Mailbox) (store.Mailbox, error) {
	m, domain, err := store.NormalizeMailbox(m)
	if err != nil {
		return m, err
	}
	owner, owned := s.domains[domain]
	switch {
	case m.Account == "" && !owned:
		return m, store.Errorf(store.ErrInvalid, "domain “%s” does not belong to any account", domain)
	case m.Account == "":
		m.Account = owner
	}
	if _, ok := s.accounts[m.Account]; !ok {
		return m, notFoundAccount(m.Account)
	}
	if owner != m.Account {
		return m, store.Errorf(store.ErrInvalid, "domain “%s” is not a domain of account “%s”", domain, m.Account)
	}
	return m, nil
}

func (h *memHandle) CreateMailbox(ctx context.Context, m store.Mailbox) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err = s.checkMailbox(m)
	if err != nil {
		return err
	}
	if _, ok := s.mailboxes[m.Address]; ok {
		return store.Errorf(store.ErrExists, "mailbox “%s” already exists", m.Address)
	}
	var n int64
	for _, x := range s.mailboxes {
		if x.Account == m.Account {
			n++
		}
	}
	if !s.accounts[m.Account].Limits.MaxPOP.Allows(n) {
		return store.FieldErrorf(store.ErrInvalid, "maxpop", "the account “%s” has reached its mailbox limit", m.Account)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	s.mailboxes[m.Address] = m
	s.gen++
	return nil
}

func (h *memHandle) RenameAccount(ctx context.Context, user string, to store.Rename, fn func(*store.Account) error) (store.Account, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Account{}, err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	prev, ok := s.accounts[user]
	if !ok {
		return store.Account{}, notFoundAccount(user)
	}
	a := cloneAccount(prev)
	newUser, newDomain := strings.ToLower(to.User), strings.ToLower(to.Domain)
	renamed := newUser != "" && newUser != user
	if renamed {
		if _, ok := s.accounts[newUser]; ok {
			return store.Account{}, store.FieldErrorf(store.ErrExists, "user", "account “%s” already exists", newUser)
		}
		a.User = newUser
		if prev.Owner == user {
			a.Owner = newUser
		}
		for i, db := range a.Databases {
			a.Databases[i] = newUser + "_" + strings.TrimPrefix(db, user+"_")
		}
	}
	var oldMain string
	if newDomain != "" && (len(a.Domains) == 0 || a.Domains[0] != newDomain) {
		if slices.Contains(a.Domains, newDomain) {
			return store.Account{}, store.FieldErrorf(store.ErrExists, "domain", "domain “%s” already belongs to “%s”", newDomain, user)
		}
		if o, ok := s.domains[newDomain]; ok && o != user {
			return store.Account{}, store.FieldErrorf(store.ErrExists, "domain", "domain “%s” belongs to another account", newDomain)
		}
		if len(a.Domains) == 0 {
			a.Domains = []string{newDomain}
		} else {
			oldMain, a.Domains[0] = a.Domains[0], newDomain
		}
	}
	if fn != nil {
		if err := fn(&a); err != nil {
			return store.Account{}, err
		}
	}
	a, err = store.NormalizeAccount(a)
	if err != nil {
		return store.Account{}, err
	}
	if renamed && a.User != newUser || !renamed && a.User != user {
		return store.Account{}, store.Errorf(store.ErrInvalid, "the user of account “%s” cannot change here", user)
	}
	a.CreatedAt = prev.CreatedAt
	// Move the mailboxes, tokens and owned accounts, then check the rest
	// as an update of the account under its new name.
	moved := map[string]store.Mailbox{}
	for addr, m := range s.mailboxes {
		if m.Account != user {
			continue
		}
		local, dom, _ := store.SplitAddress(addr)
		if oldMain != "" && dom == oldMain {
			m.Address = local + "@" + a.Domains[0]
		}
		m.Account = a.User
		moved[addr] = m
	}
	for addr, m := range moved {
		if addr != m.Address {
			if _, ok := s.mailboxes[m.Address]; ok {
				return store.Account{}, store.FieldErrorf(store.ErrExists, "address", "mailbox “%s” exists", m.Address)
			}
		}
	}
	for addr, m := range moved {
		delete(s.mailboxes, addr)
		s.mailboxes[m.Address] = m
	}
	for k, t := range s.tokens {
		if k.user == user && renamed {
			delete(s.tokens, k)
			t.User = a.User
			s.tokens[tokenKey{a.User, k.name}] = t
		}
	}
	if renamed {
		for u, o := range s.accounts {
			if o.Owner == user && u != user {
				o.Owner = a.User
				s.accounts[u] = o
			}
		}
		for _, d := range prev.Domains {
			delete(s.domains, d)
		}
		delete(s.accounts, user)
		s.storeAccount(a, nil)
		return cloneAccount(a), nil
	}
	moved2 := prev
	if oldMain != "" {
		moved2.Domains = slices.Clone(a.Domains)
		delete(s.domains, oldMain)
		s.domains[a.Domains[0]] = user
	}
	if err := s.checkAccount(a, &moved2); err != nil {
		return store.Account{}, err
	}
	s.storeAccount(a, &moved2)
	return cloneAccount(a), nil
}

func (h *memHandle) UpdateMailbox(ctx context.Context, address string, fn func(*store.Mailbox) error) (store.Mailbox, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Mailbox{}, err
	}
	defer s.mu.Unlock()
	address = strings.ToLower(address)
	prev, ok := s.mailboxes[address]
	if !ok {
		return store.Mailbox{}, store.Errorf(store.ErrNotFound, "mailbox “%s” does not exist", address)
	}
	m := prev
	if err := fn(&m); err != nil {
		return store.Mailbox{}, err
	}
	if strings.ToLower(m.Address) != prev.Address || strings.ToLower(m.Account) != prev.Account {
		return store.Mailbox{}, store.Errorf(store.ErrInvalid, "the address and account of mailbox “%s” cannot change", address)
	}
	if !store.ValidPasswordHash(m.PasswordHash) {
		return store.Mailbox{}, store.Errorf(store.ErrInvalid, "the password hash of “%s” is not a valid crypt string", address)
	}
	if m.Quota < 0 {
		return store.Mailbox{}, store.Errorf(store.ErrInvalid, "the quota of “%s” is negative", address)
	}
	next := prev
	next.PasswordHash, next.SuspendedLogin, next.Quota = m.PasswordHash, m.SuspendedLogin, m.Quota
	if next != prev {
		s.mailboxes[address] = next
		s.gen++
	}
	return next, nil
}

func (h *memHandle) PutMailbox(ctx context.Context, m store.Mailbox) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	m, err = s.checkMailbox(m)
	if err != nil {
		return err
	}
	if prev, ok := s.mailboxes[m.Address]; ok {
		m.CreatedAt = prev.CreatedAt
		if m == prev {
			return nil
		}
	} else if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	s.mailboxes[m.Address] = m
	s.gen++
	return nil
}

func (h *memHandle) RemoveMailbox(ctx context.Context, address string) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	address = strings.ToLower(address)
	if _, ok := s.mailboxes[address]; !ok {
		return store.Errorf(store.ErrNotFound, "mailbox “%s” does not exist", address)
	}
	delete(s.mailboxes, address)
	s.gen++
	return nil
}

func cloneToken(t store.Token) store.Token {
	t.Hash = slices.Clone(t.Hash)
	t.AllowIPs = slices.Clone(t.AllowIPs)
	return t
}

func sameToken(a, b store.Token) bool {
	return a.User == b.User && a.Name == b.Name && bytes.Equal(a.Hash, b.Hash) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && slices.Equal(a.AllowIPs, b.AllowIPs)
}

// checkToken normalises t and applies the rules (but uniqueness of the
// name); the caller holds the lock.
func (s *memState) checkToken(t store.Token) (store.Token, error) {
	t, err := store.NormalizeToken(t)
	if err != nil {
		return t, err
	}
	if _, ok := s.accounts[t.User]; t.User != store.RootUser && !ok {
		return t, notFoundAccount(t.User)
	}
	for k, o := range s.tokens {
		if k.user == t.User && k.name != t.Name && bytes.Equal(o.Hash, t.Hash) {
			return t, store.Errorf(store.ErrExists, "token “%s” of “%s” has the same secret", k.name, k.user)
		}
	}
	return cloneToken(t), nil
}

func (h *memHandle) CreateToken(ctx context.Context, t store.Token) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err = s.checkToken(t)
	if err != nil {
		return err
	}
	if _, ok := s.tokens[tokenKey{t.User, t.Name}]; ok {
		return store.Errorf(store.ErrExists, "“%s” already has a token “%s”", t.User, t.Name)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	s.tokens[tokenKey{t.User, t.Name}] = t
	s.gen++
	return nil
}

func (h *memHandle) PutToken(ctx context.Context, t store.Token) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err = s.checkToken(t)
	if err != nil {
		return err
	}
	k := tokenKey{t.User, t.Name}
	if prev, ok := s.tokens[k]; ok {
		t.CreatedAt = prev.CreatedAt
		if sameToken(t, prev) {
			return nil
		}
	} else if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	s.tokens[k] = t
	s.gen++
	return nil
}

func (h *memHandle) ListTokens(ctx context.Context, user string) ([]store.Token, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	if _, ok := s.accounts[user]; user != "" && user != store.RootUser && !ok {
		return nil, notFoundAccount(user)
	}
	keys := slices.SortedFunc(maps.Keys(s.tokens), func(a, b tokenKey) int {
		if c := strings.Compare(a.user, b.user); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var out []store.Token
	for _, k := range keys {
		if user == "" || k.user == user {
			out = append(out, cloneToken(s.tokens[k]))
		}
	}
	return out, nil
}

func (h *memHandle) RevokeToken(ctx context.Context, user, name string) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := tokenKey{strings.ToLower(user), name}
	if _, ok := s.tokens[k]; !ok {
		return store.Errorf(store.ErrNotFound, "“%s” has no token “%s”", k.user, name)
	}
	delete(s.tokens, k)
	s.gen++
	return nil
}

func (h *memHandle) TokenByHash(ctx context.Context, user string, hash []byte) (store.Token, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Token{}, err
	}
	defer s.mu.Unlock()
	user = strings.ToLower(user)
	for k, t := range s.tokens {
		if k.user == user && len(hash) > 0 && bytes.Equal(t.Hash, hash) {
			return cloneToken(t), nil
		}
	}
	return store.Token{}, store.Errorf(store.ErrNotFound, "no such token")
}

func (h *memHandle) Generation(ctx context.Context) (int64, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.gen, nil
}

// ---- Sessions ----

func msTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func hashOrNil(h []byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return slices.Clone(h)
}

func cloneSession(r store.Session) store.Session {
	r.LoginHash, r.CookieHash = hashOrNil(r.LoginHash), hashOrNil(r.CookieHash)
	return r
}

func errSession(kind error) error { return store.Errorf(kind, "session: %s", kind) }

// expiredAt is the store's expiry check, at millisecond precision.
func expiredAt(r store.Session, now time.Time) bool { return !msTime(now).Before(r.ExpiresAt) }

func (h *memHandle) Create(ctx context.Context, r store.Session) error {
	if err := store.ValidateSession(&r); err != nil {
		return err
	}
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	r = cloneSession(r)
	r.CreatedAt, r.LastUsed, r.ExpiresAt = msTime(r.CreatedAt), msTime(r.LastUsed), msTime(r.ExpiresAt)
	for _, o := range s.sessions {
		if o.ID == r.ID || o.Token == r.Token ||
			r.LoginHash != nil && bytes.Equal(o.LoginHash, r.LoginHash) ||
			r.CookieHash != nil && bytes.Equal(o.CookieHash, r.CookieHash) {
			return errSession(store.ErrExists)
		}
	}
	s.sessions[r.ID] = r
	return nil
}

func (h *memHandle) Get(ctx context.Context, id string) (store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Session{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	if !ok {
		return store.Session{}, errSession(store.ErrNotFound)
	}
	return cloneSession(r), nil
}

func (h *memHandle) byHash(ctx context.Context, hash []byte, field func(store.Session) []byte) (store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Session{}, err
	}
	defer s.mu.Unlock()
	if len(hash) > 0 {
		for _, r := range s.sessions {
			if bytes.Equal(field(r), hash) {
				return cloneSession(r), nil
			}
		}
	}
	return store.Session{}, errSession(store.ErrNotFound)
}

func (h *memHandle) ByLoginHash(ctx context.Context, hash []byte) (store.Session, error) {
	return h.byHash(ctx, hash, func(r store.Session) []byte { return r.LoginHash })
}

func (h *memHandle) ByCookieHash(ctx context.Context, hash []byte) (store.Session, error) {
	return h.byHash(ctx, hash, func(r store.Session) []byte { return r.CookieHash })
}

func (h *memHandle) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (store.Session, error) {
	if !store.ValidSessionHash(cookieHash) {
		return store.Session{}, errSession(store.ErrInvalid)
	}
	s, err := h.lock(ctx)
	if err != nil {
		return store.Session{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	switch {
	case !ok:
		return store.Session{}, errSession(store.ErrNotFound)
	case r.Consumed:
		return store.Session{}, errSession(store.ErrConsumed)
	case expiredAt(r, now):
		return store.Session{}, errSession(store.ErrExpired)
	}
	cookieHash = hashOrNil(cookieHash)
	if cookieHash != nil {
		for _, o := range s.sessions {
			if o.ID != id && bytes.Equal(o.CookieHash, cookieHash) {
				return store.Session{}, errSession(store.ErrExists)
			}
		}
	}
	r.Consumed, r.CookieHash, r.LastUsed, r.ExpiresAt = true, cookieHash, msTime(now), msTime(expires)
	s.sessions[id] = r
	return cloneSession(r), nil
}

func (h *memHandle) Touch(ctx context.Context, id string, now, expires time.Time) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	switch {
	case !ok:
		return errSession(store.ErrNotFound)
	case expiredAt(r, now):
		return errSession(store.ErrExpired)
	}
	r.LastUsed, r.ExpiresAt = msTime(now), msTime(expires)
	s.sessions[id] = r
	return nil
}

func (h *memHandle) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	if !ok {
		return false, errSession(store.ErrNotFound)
	}
	if r.TempCreated {
		return false, nil
	}
	r.TempCreated = true
	s.sessions[id] = r
	return true, nil
}

func (h *memHandle) Delete(ctx context.Context, id string) (store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.Session{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.sessions[id]
	if !ok {
		return store.Session{}, errSession(store.ErrNotFound)
	}
	delete(s.sessions, id)
	return r, nil
}

func (h *memHandle) DeleteByAccount(ctx context.Context, account, user string) ([]store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Session
	for id, r := range s.sessions {
		if r.Account == account && (user == "" || r.User == user) {
			out = append(out, r)
			delete(s.sessions, id)
		}
	}
	return out, nil
}

func sortSessions(rs []store.Session) {
	slices.SortFunc(rs, func(a, b store.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (h *memHandle) List(ctx context.Context, account string) ([]store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Session
	for _, r := range s.sessions {
		if account == "" || r.Account == account {
			out = append(out, cloneSession(r))
		}
	}
	sortSessions(out)
	return out, nil
}

func (h *memHandle) Sweep(ctx context.Context, now time.Time, limit int) ([]store.Session, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Session
	for _, r := range s.sessions {
		if expiredAt(r, now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for _, r := range out {
		delete(s.sessions, r.ID)
	}
	return out, nil
}

// ---- Ledger ----

func (h *memHandle) RecordTempUser(ctx context.Context, u store.TempUser) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if e, ok := s.temp[u.Name]; ok {
		if e.u == u {
			return nil
		}
		return store.Errorf(store.ErrExists, "temporary user “%s” is recorded for another session", u.Name)
	}
	s.temp[u.Name] = tempEntry{u, time.Now()}
	return nil
}

func (h *memHandle) RemoveTempUser(ctx context.Context, name string) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.temp, name)
	return nil
}

func (h *memHandle) GetTempUser(ctx context.Context, name string) (store.TempUser, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.TempUser{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.temp[name]
	if !ok {
		return store.TempUser{}, store.Errorf(store.ErrNotFound, "temporary user “%s” is not recorded", name)
	}
	return e.u, nil
}

func (h *memHandle) ListTempUsers(ctx context.Context) ([]store.TempUser, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	es := slices.Collect(maps.Values(s.temp))
	slices.SortFunc(es, func(a, b tempEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.u.Name, b.u.Name)
	})
	out := make([]store.TempUser, len(es))
	for i, e := range es {
		out[i] = e.u
	}
	return out, nil
}

// ---- Attempts ----

func (h *memHandle) Failure(ctx context.Context, key store.AttemptKey, now time.Time, window time.Duration) (store.AttemptState, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return store.AttemptState{}, err
	}
	defer s.mu.Unlock()
	r := s.attempts[key]
	if r == nil {
		r = &attemptRec{}
		s.attempts[key] = r
	}
	cutoff := now.Add(-window)
	r.failures = slices.DeleteFunc(r.failures, func(f time.Time) bool { return !f.After(cutoff) })
	r.failures = append(r.failures, now)
	return store.AttemptState{Failures: len(r.failures), BlockedUntil: r.until, Strikes: r.strikes}, nil
}

func (h *memHandle) Block(ctx context.Context, key store.AttemptKey, strikes int, until, forget time.Time) (bool, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	r := s.attempts[key]
	if r == nil {
		r = &attemptRec{}
	}
	if r.strikes != strikes {
		return false, nil
	}
	r.strikes, r.until, r.forget, r.failures = strikes+1, until, forget, nil
	s.attempts[key] = r
	return true, nil
}

func (h *memHandle) BlockedUntil(ctx context.Context, keys []store.AttemptKey, now time.Time) ([]time.Time, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		if r := s.attempts[k]; r != nil && now.Before(r.until) {
			out[i] = r.until
		}
	}
	return out, nil
}

func (h *memHandle) Trust(ctx context.Context, user, addr string, until time.Time) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.trusts[[2]string{user, addr}] = until
	return nil
}

func (h *memHandle) Trusted(ctx context.Context, user, addr string, now time.Time) (bool, error) {
	s, err := h.lock(ctx)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	until, ok := s.trusts[[2]string{user, addr}]
	return ok && now.Before(until), nil
}

func (h *memHandle) Sweep2(ctx context.Context, now time.Time, keep time.Duration) error {
	s, err := h.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	cutoff := now.Add(-keep)
	for k, r := range s.attempts {
		r.failures = slices.DeleteFunc(r.failures, func(f time.Time) bool { return f.Before(cutoff) })
		if !r.forget.IsZero() && !now.Before(r.forget) {
			r.strikes, r.until, r.forget = 0, time.Time{}, time.Time{}
		}
		if len(r.failures) == 0 && r.strikes == 0 {
			delete(s.attempts, k)
		}
	}
	for k, until := range s.trusts {
		if !now.Before(until) {
			delete(s.trusts, k)
		}
	}
	return nil
}

// memAttempts gives the attempt counters their own type: store.Sessions
// and store.Attempts both have a Sweep method, with different signatures.
type memAttempts struct{ *memHandle }

func (a memAttempts) Sweep(ctx context.Context, now time.Time, keep time.Duration) error {
	return a.memHandle.Sweep2(ctx, now, keep)
}

// ---- The tests of the suite itself ----

func memHandles(s *memState) Handles {
	h := &memHandle{s}
	return Handles{Dir: h, Sessions: h, Ledger: h, Attempts: memAttempts{h}, OAuth: h}
}

var memBackend = Backend{
	New: func(t testing.TB) Handles { return memHandles(newMemState()) },
	Pair: func(t testing.TB) (a, b Handles) {
		s := newMemState()
		return memHandles(s), memHandles(s)
	},
}

func TestMemory(t *testing.T) {
	Run(t, memBackend)
}

// TestPartialBackend runs the suite on a backend that has sessions only
// and no pair: everything else is left out.
func TestPartialBackend(t *testing.T) {
	var made int
	Run(t, Backend{New: func(t testing.TB) Handles {
		made++
		return Handles{Sessions: &memHandle{newMemState()}}
	}})
	if made == 0 {
		t.Error("New was never called")
	}
}

func BenchmarkMemoryCreate(b *testing.B) {
	BenchCreate(b, memBackend.New(b).Sessions, session.NewID)
}

func BenchmarkMemoryConsume(b *testing.B) {
	BenchConsume(b, memBackend.New(b).Sessions, session.NewID)
}

func BenchmarkMemoryByLoginHash(b *testing.B) {
	BenchByLoginHash(b, memBackend.New(b).Sessions, session.NewID)
}
