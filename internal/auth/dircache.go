package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/uapid/uapid/internal/store"
)

// dirCache remembers the directory's answers that authentication needs
// (accounts, mailboxes, tokens, root's password hash, including "not
// found"), each valid only for the directory generation it was read at.
// Every request first reads the generation (one small query) and is served
// from the cache only while it is unchanged: any committed change to the
// directory, by this process or another one (the CLI, another node on a
// shared store), moves the generation and so reaches the very next
// request, as if the cache were not there. A suspension, removal, password
// change or token revocation therefore still takes effect at once.
//
// Entries are stored under the generation read before the directory was:
// what they hold is at least as new as that generation, so a request that
// saw the same generation may use them. Answers are shared between
// callers and must not be modified.
type dirCache struct {
	dir store.Directory
	max int

	mu      sync.Mutex
	gen     int64
	entries map[cacheKey]cacheVal
}

type cacheKey struct {
	kind byte // 'a' account, 'm' mailbox, 't' token, 'r' root password hash
	a, b string
}

type cacheVal struct {
	acct store.Account
	mb   store.Mailbox
	tok  store.Token
	hash string
	err  error // nil or a store.ErrNotFound
}

// maxDirCacheEntries bounds the cache; it is emptied when full (answers
// for unknown users and wrong tokens are cached too, so their number is
// not the directory's size).
const maxDirCacheEntries = 50_000

func newDirCache(d store.Directory) *dirCache {
	return &dirCache{dir: d, max: maxDirCacheEntries, entries: make(map[cacheKey]cacheVal)}
}

// dirView is the directory as of one generation.
type dirView struct {
	c   *dirCache
	gen int64
}

// view reads the directory's generation, once per request when ctx is a
// request's (WithRequestView).
func (c *dirCache) view(ctx context.Context) (dirView, error) {
	rv, _ := ctx.Value(requestViewKey{}).(*requestView)
	if rv != nil {
		if v := rv.p.Load(); v != nil && v.c == c {
			return *v, nil
		}
	}
	g, err := c.dir.Generation(ctx)
	if err != nil {
		return dirView{}, err
	}
	v := dirView{c: c, gen: g}
	if rv != nil {
		rv.p.Store(&v)
	}
	return v, nil
}

func (c *dirCache) get(gen int64, k cacheKey) (cacheVal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return cacheVal{}, false
	}
	v, ok := c.entries[k]
	return v, ok
}

func (c *dirCache) put(gen int64, k cacheKey, v cacheVal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || len(c.entries) >= c.max {
		// A new generation (or, after a restore, an older one) starts
		// afresh; what was cached belongs to another state.
		clear(c.entries)
		c.gen = gen
	}
	c.entries[k] = v
}

// cacheable reports whether an answer may be kept: found, or not found.
func cacheable(err error) bool { return err == nil || errors.Is(err, store.ErrNotFound) }

func (v dirView) account(ctx context.Context, user string) (store.Account, error) {
	k := cacheKey{kind: 'a', a: user}
	if e, ok := v.c.get(v.gen, k); ok {
		return e.acct, e.err
	}
	a, err := v.c.dir.GetAccount(ctx, user)
	if cacheable(err) {
		v.c.put(v.gen, k, cacheVal{acct: a, err: err})
	}
	return a, err
}

func (v dirView) mailbox(ctx context.Context, address string) (store.Mailbox, error) {
	k := cacheKey{kind: 'm', a: address}
	if e, ok := v.c.get(v.gen, k); ok {
		return e.mb, e.err
	}
	m, err := v.c.dir.GetMailbox(ctx, address)
	if cacheable(err) {
		v.c.put(v.gen, k, cacheVal{mb: m, err: err})
	}
	return m, err
}

func (v dirView) token(ctx context.Context, user string, hash []byte) (store.Token, error) {
	k := cacheKey{kind: 't', a: user, b: hex.EncodeToString(hash)}
	if e, ok := v.c.get(v.gen, k); ok {
		return e.tok, e.err
	}
	t, err := v.c.dir.TokenByHash(ctx, user, hash)
	if cacheable(err) {
		v.c.put(v.gen, k, cacheVal{tok: t, err: err})
	}
	return t, err
}

func (v dirView) rootPasswordHash(ctx context.Context) (string, error) {
	k := cacheKey{kind: 'r'}
	if e, ok := v.c.get(v.gen, k); ok {
		return e.hash, e.err
	}
	h, err := v.c.dir.RootPasswordHash(ctx)
	if err == nil {
		v.c.put(v.gen, k, cacheVal{hash: h})
	}
	return h, err
}

// A request's view. The first directory read of a request (normally its
// authentication) fixes the directory generation the rest of the request
// reads at, so that a request costs one generation query however many
// cached lookups it makes. A request sees the directory as of its start,
// as a request running just before a change would; the next request sees
// the change.
type requestViewKey struct{}

type requestView struct{ p atomic.Pointer[dirView] }

// WithRequestView returns ctx marked as the context of one request (see
// Authenticator.Directory). The server's middleware calls it once per
// HTTP request.
func WithRequestView(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestViewKey{}, &requestView{})
}

// cachedDirectory is the directory with account and mailbox reads served
// through an Authenticator's cache, at the generation of the request's
// view. Without a request view in ctx it reads the directory directly.
// Writes go straight to the directory.
type cachedDirectory struct {
	store.Directory
	a *Authenticator
}

// Directory returns a.Dir with GetAccount and GetMailbox answered from the
// authentication cache when ctx is a request's (WithRequestView): a module
// that checks ownership then needs no query beyond the one that
// authenticated the request. Only modules that do not write to the
// directory within the request should use it: a read after a write of the
// same request would see the directory as of the request's start.
func (a *Authenticator) Directory() store.Directory {
	return cachedDirectory{Directory: a.Dir, a: a}
}

func (d cachedDirectory) requestView(ctx context.Context) (dirView, bool, error) {
	if _, ok := ctx.Value(requestViewKey{}).(*requestView); !ok {
		return dirView{}, false, nil
	}
	v, err := d.a.view(ctx)
	return v, err == nil, err
}

// GetAccount implements store.Directory.
func (d cachedDirectory) GetAccount(ctx context.Context, user string) (store.Account, error) {
	v, ok, err := d.requestView(ctx)
	if err != nil {
		return store.Account{}, err
	}
	if !ok {
		return d.Directory.GetAccount(ctx, user)
	}
	a, err := v.account(ctx, user)
	// Cached answers are shared: the caller gets its own slices.
	a.Domains, a.Databases = slices.Clone(a.Domains), slices.Clone(a.Databases)
	return a, err
}

// GetMailbox implements store.Directory.
func (d cachedDirectory) GetMailbox(ctx context.Context, address string) (store.Mailbox, error) {
	v, ok, err := d.requestView(ctx)
	if err != nil {
		return store.Mailbox{}, err
	}
	if !ok {
		return d.Directory.GetMailbox(ctx, address)
	}
	return v.mailbox(ctx, address)
}
