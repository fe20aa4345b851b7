package session

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"
)

// Memory is a Store that keeps the records in this process's memory. It
// suits a single node and tests; records are lost when the process exits.
//
// It is built to stay compact (about 400 bytes per live session, see
// TestMemoryFootprint): one flat entry per record with no per-record maps;
// the per-session texts share one allocation, the few texts with a handful of
// distinct values (service, method, locale) are interned, and the hashes are
// kept as [32]byte values. Four open-addressing indexes of entry pointers (by
// id, token, login hash and cookie hash) cost about 14 bytes each per record,
// and a min-heap on the expiry lets Sweep take expired records without
// scanning.
type Memory struct {
	mu       sync.RWMutex
	closed   bool
	byID     memIndex
	byToken  memIndex
	byLogin  memIndex
	byCookie memIndex
	expiry   []*memEntry // min-heap on memEntry.expires; holds every entry
}

// memEntry is one stored record. The per-session texts are concatenated in
// text, in the order of the textField constants; ends holds where each but
// the last ends.
type memEntry struct {
	text string
	ends [numTextFields - 1]uint16

	service, method, locale unique.Handle[string]

	login, cookie              [hashLen]byte
	created, lastUsed, expires int64 // unix milliseconds

	heapIdx int32
	flags   uint8
}

// Fields kept in memEntry.text.
const (
	fID = iota
	fToken
	fUser
	fAccount
	fCreator
	fOrigin
	fReturnURL
	fTempUser
	fTempPass
	numTextFields
)

const (
	flagLogin       = 1 << iota // login holds a hash
	flagCookie                  // cookie holds a hash
	flagConsumed                // Record.Consumed
	flagTempCreated             // Record.TempCreated
)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{}
	m.byID.init(keyID)
	m.byToken.init(keyToken)
	m.byLogin.init(keyLogin)
	m.byCookie.init(keyCookie)
	return m
}

var _ Store = (*Memory)(nil)

// field returns text field f of e.
func (e *memEntry) field(f int) string {
	start, end := 0, len(e.text)
	if f > 0 {
		start = int(e.ends[f-1])
	}
	if f < numTextFields-1 {
		end = int(e.ends[f])
	}
	return e.text[start:end]
}

func (e *memEntry) id() string    { return e.field(fID) }
func (e *memEntry) token() string { return e.field(fToken) }

func (e *memEntry) has(f uint8) bool { return e.flags&f != 0 }

func (e *memEntry) set(f uint8, on bool) {
	if on {
		e.flags |= f
	} else {
		e.flags &^= f
	}
}

// newMemEntry copies r (already validated) into a fresh entry.
func newMemEntry(r *Record) *memEntry {
	fields := [numTextFields]string{
		fID: r.ID, fToken: r.Token, fUser: r.User, fAccount: r.Account,
		fCreator: r.Creator, fOrigin: r.Origin, fReturnURL: r.ReturnURL,
		fTempUser: r.TempUser, fTempPass: r.TempPass,
	}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	var b strings.Builder
	b.Grow(n)
	e := &memEntry{
		service:  unique.Make(r.Service),
		method:   unique.Make(r.Method),
		locale:   unique.Make(r.Locale),
		created:  r.CreatedAt.UnixMilli(),
		lastUsed: r.LastUsed.UnixMilli(),
		expires:  r.ExpiresAt.UnixMilli(),
		heapIdx:  -1,
	}
	for i, f := range fields {
		b.WriteString(f)
		if i < len(e.ends) {
			// validate bounds every field by MaxFieldLen, so that the
			// ends fit in uint16.
			e.ends[i] = uint16(b.Len())
		}
	}
	e.text = b.String()
	if len(r.LoginHash) == hashLen {
		e.login = [hashLen]byte(r.LoginHash)
		e.flags |= flagLogin
	}
	if len(r.CookieHash) == hashLen {
		e.cookie = [hashLen]byte(r.CookieHash)
		e.flags |= flagCookie
	}
	e.set(flagConsumed, r.Consumed)
	e.set(flagTempCreated, r.TempCreated)
	return e
}

// record returns a Record holding copies of e's data.
func (e *memEntry) record() Record {
	r := Record{
		ID:          e.field(fID),
		User:        e.field(fUser),
		Account:     e.field(fAccount),
		Service:     e.service.Value(),
		Token:       e.field(fToken),
		Consumed:    e.has(flagConsumed),
		Creator:     e.field(fCreator),
		Method:      e.method.Value(),
		Origin:      e.field(fOrigin),
		Locale:      e.locale.Value(),
		ReturnURL:   e.field(fReturnURL),
		TempUser:    e.field(fTempUser),
		TempPass:    e.field(fTempPass),
		TempCreated: e.has(flagTempCreated),
		CreatedAt:   fromMilli(e.created),
		LastUsed:    fromMilli(e.lastUsed),
		ExpiresAt:   fromMilli(e.expires),
	}
	if e.has(flagLogin) {
		r.LoginHash = slices.Clone(e.login[:])
	}
	if e.has(flagCookie) {
		r.CookieHash = slices.Clone(e.cookie[:])
	}
	return r
}

// errClosed is returned by every method of a closed Memory.
var errClosed = errors.New("session: store closed")

// Create implements Store.
func (m *Memory) Create(ctx context.Context, r Record) error {
	if err := validate(&r); err != nil {
		return err
	}
	e := newMemEntry(&r)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if m.byID.find(e) != nil || m.byToken.find(e) != nil ||
		(e.has(flagLogin) && m.byLogin.find(e) != nil) ||
		(e.has(flagCookie) && m.byCookie.find(e) != nil) {
		return ErrExists
	}
	m.byID.insert(e)
	m.byToken.insert(e)
	m.byLogin.insert(e)
	m.byCookie.insert(e)
	m.heapPush(e)
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id string) (Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Record{}, errClosed
	}
	e := m.byID.findString(id)
	if e == nil {
		return Record{}, ErrNotFound
	}
	return e.record(), nil
}

// ByLoginHash implements Store.
func (m *Memory) ByLoginHash(ctx context.Context, h []byte) (Record, error) {
	return m.byHash(&m.byLogin, h)
}

// ByCookieHash implements Store.
func (m *Memory) ByCookieHash(ctx context.Context, h []byte) (Record, error) {
	return m.byHash(&m.byCookie, h)
}

func (m *Memory) byHash(index *memIndex, h []byte) (Record, error) {
	if len(h) != hashLen {
		return Record{}, ErrNotFound
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Record{}, errClosed
	}
	e := index.findHash((*[hashLen]byte)(h))
	if e == nil {
		return Record{}, ErrNotFound
	}
	return e.record(), nil
}

// Consume implements Store.
func (m *Memory) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (Record, error) {
	if !validHash(cookieHash) {
		return Record{}, ErrInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Record{}, errClosed
	}
	e := m.byID.findString(id)
	switch {
	case e == nil:
		return Record{}, ErrNotFound
	case e.has(flagConsumed):
		return Record{}, ErrConsumed
	case e.expires <= now.UnixMilli():
		return Record{}, ErrExpired
	}
	if len(cookieHash) == hashLen {
		if other := m.byCookie.findHash((*[hashLen]byte)(cookieHash)); other != nil && other != e {
			return Record{}, ErrExists
		}
	}
	m.byCookie.remove(e)
	e.cookie = [hashLen]byte{}
	e.set(flagCookie, false)
	if len(cookieHash) == hashLen {
		e.cookie = [hashLen]byte(cookieHash)
		e.set(flagCookie, true)
		m.byCookie.insert(e)
	}
	e.set(flagConsumed, true)
	e.lastUsed = now.UnixMilli()
	m.setExpiry(e, expires.UnixMilli())
	return e.record(), nil
}

// Touch implements Store.
func (m *Memory) Touch(ctx context.Context, id string, now, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	e := m.byID.findString(id)
	switch {
	case e == nil:
		return ErrNotFound
	case e.expires <= now.UnixMilli():
		return ErrExpired
	}
	e.lastUsed = now.UnixMilli()
	m.setExpiry(e, expires.UnixMilli())
	return nil
}

// MarkTempCreated implements Store.
func (m *Memory) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, errClosed
	}
	e := m.byID.findString(id)
	if e == nil {
		return false, ErrNotFound
	}
	if e.has(flagTempCreated) {
		return false, nil
	}
	e.set(flagTempCreated, true)
	return true, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, id string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Record{}, errClosed
	}
	e := m.byID.findString(id)
	if e == nil {
		return Record{}, ErrNotFound
	}
	m.remove(e)
	return e.record(), nil
}

// DeleteByAccount implements Store. It scans all records: ending an
// account's sessions is rare (logout-all, suspension, removal).
func (m *Memory) DeleteByAccount(ctx context.Context, account, user string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	var gone []*memEntry
	for _, e := range m.expiry {
		if e.field(fAccount) == account && (user == "" || e.field(fUser) == user) {
			gone = append(gone, e)
		}
	}
	sortEntries(gone)
	out := make([]Record, 0, len(gone))
	for _, e := range gone {
		m.remove(e)
		out = append(out, e.record())
	}
	return out, nil
}

// List implements Store. It scans all records; it serves administration,
// not requests.
func (m *Memory) List(ctx context.Context, account string) ([]Record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed
	}
	var found []*memEntry
	for _, e := range m.expiry {
		if account == "" || e.field(fAccount) == account {
			found = append(found, e)
		}
	}
	sortEntries(found)
	out := make([]Record, 0, len(found))
	for _, e := range found {
		out = append(out, e.record())
	}
	return out, nil
}

// Sweep implements Store. It takes the records with the earliest expiry
// first, from the expiry heap, so its cost grows with what it removes, not
// with the number of sessions.
func (m *Memory) Sweep(ctx context.Context, now time.Time, limit int) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	nowMs := now.UnixMilli()
	var out []Record
	for len(m.expiry) > 0 && (limit <= 0 || len(out) < limit) {
		e := m.expiry[0]
		if e.expires > nowMs {
			break
		}
		m.remove(e)
		out = append(out, e.record())
	}
	return out, nil
}

// Close implements Store: it drops every record; later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.byID, m.byToken, m.byLogin, m.byCookie = memIndex{}, memIndex{}, memIndex{}, memIndex{}
	m.expiry = nil
	return nil
}

// Len returns the number of stored records, expired ones included.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.expiry)
}

// remove drops e from every index. The caller holds m.mu for writing.
func (m *Memory) remove(e *memEntry) {
	m.byID.remove(e)
	m.byToken.remove(e)
	m.byLogin.remove(e)
	m.byCookie.remove(e)
	m.heapRemove(e)
}

// sortEntries orders entries oldest first (CreatedAt, then ID), the order
// List promises.
func sortEntries(es []*memEntry) {
	slices.SortFunc(es, func(a, b *memEntry) int {
		if a.created != b.created {
			if a.created < b.created {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id(), b.id())
	})
}

// The expiry heap: a binary min-heap on expires, each entry knowing its
// position so that Touch, Consume and Delete can fix or remove it in
// O(log n). The caller holds m.mu for writing.

func (m *Memory) heapPush(e *memEntry) {
	e.heapIdx = int32(len(m.expiry))
	m.expiry = append(m.expiry, e)
	m.heapUp(int(e.heapIdx))
}

func (m *Memory) heapRemove(e *memEntry) {
	i := int(e.heapIdx)
	if i < 0 {
		return
	}
	last := len(m.expiry) - 1
	if i != last {
		m.heapSwap(i, last)
	}
	m.expiry[last] = nil
	m.expiry = m.expiry[:last]
	e.heapIdx = -1
	if i != last {
		m.heapFix(i)
	}
}

func (m *Memory) setExpiry(e *memEntry, expires int64) {
	e.expires = expires
	m.heapFix(int(e.heapIdx))
}

func (m *Memory) heapFix(i int) {
	if !m.heapDown(i) {
		m.heapUp(i)
	}
}

func (m *Memory) heapSwap(i, j int) {
	h := m.expiry
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = int32(i)
	h[j].heapIdx = int32(j)
}

func (m *Memory) heapUp(i int) {
	h := m.expiry
	for i > 0 {
		p := (i - 1) / 2
		if h[p].expires <= h[i].expires {
			break
		}
		m.heapSwap(i, p)
		i = p
	}
}

// heapDown sifts h[i] down and reports whether it moved.
func (m *Memory) heapDown(i int) bool {
	h := m.expiry
	start := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h[r].expires < h[c].expires {
			c = r
		}
		if h[i].expires <= h[c].expires {
			break
		}
		m.heapSwap(i, c)
		i = c
	}
	return i > start
}
