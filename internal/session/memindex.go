package session

import "hash/maphash"

// memIndex is a hash index of *memEntry by one of the entry's own keys (id,
// token, login hash or cookie hash): an open-addressing table with linear
// probing and backward-shift deletion. It stores only pointers, 8 bytes a
// slot at a load between 3/16 and 3/4, where a Go map would also copy the
// key into every slot (40 bytes for a [32]byte key). The key is read from
// the entry, so each key is kept once, in the entry. Entries whose key is
// absent (a record without a login or cookie hash) are not indexed.
//
// Not safe for concurrent use; Memory's lock guards it.
type memIndex struct {
	kind  keyKind
	seed  maphash.Seed
	slots []*memEntry // length 0 or a power of two; nil marks a free slot
	count int
}

type keyKind uint8

const (
	keyID keyKind = iota
	keyToken
	keyLogin
	keyCookie
)

const minIndexSlots = 16

func (x *memIndex) init(kind keyKind) {
	x.kind = kind
	x.seed = maphash.MakeSeed()
	x.slots = make([]*memEntry, minIndexSlots)
	x.count = 0
}

// keyed reports whether e has a key for this index.
func (x *memIndex) keyed(e *memEntry) bool {
	switch x.kind {
	case keyLogin:
		return e.has(flagLogin)
	case keyCookie:
		return e.has(flagCookie)
	}
	return true
}

func (x *memIndex) hashString(s string) uint64 { return maphash.String(x.seed, s) }

func (x *memIndex) hashBytes(b *[hashLen]byte) uint64 { return maphash.Bytes(x.seed, b[:]) }

// hashOf hashes e's key.
func (x *memIndex) hashOf(e *memEntry) uint64 {
	switch x.kind {
	case keyID:
		return x.hashString(e.id())
	case keyToken:
		return x.hashString(e.token())
	case keyLogin:
		return x.hashBytes(&e.login)
	default:
		return x.hashBytes(&e.cookie)
	}
}

// findString returns the entry whose id or token (by kind) is s, or nil.
func (x *memIndex) findString(s string) *memEntry {
	mask := uint64(len(x.slots) - 1)
	for i := x.hashString(s) & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e == nil {
			return nil
		}
		if (x.kind == keyID && e.id() == s) || (x.kind == keyToken && e.token() == s) {
			return e
		}
	}
}

// findHash returns the entry whose login or cookie hash (by kind) is h, or
// nil.
func (x *memIndex) findHash(h *[hashLen]byte) *memEntry {
	mask := uint64(len(x.slots) - 1)
	for i := x.hashBytes(h) & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e == nil {
			return nil
		}
		if (x.kind == keyLogin && e.login == *h) || (x.kind == keyCookie && e.cookie == *h) {
			return e
		}
	}
}

// find returns the indexed entry with the same key as e, or nil.
func (x *memIndex) find(e *memEntry) *memEntry {
	switch x.kind {
	case keyID:
		return x.findString(e.id())
	case keyToken:
		return x.findString(e.token())
	case keyLogin:
		return x.findHash(&e.login)
	default:
		return x.findHash(&e.cookie)
	}
}

// insert adds e, whose key must not be indexed yet. Entries without a key
// are ignored.
func (x *memIndex) insert(e *memEntry) {
	if !x.keyed(e) {
		return
	}
	if (x.count+1)*4 > len(x.slots)*3 {
		x.resize(len(x.slots) * 2)
	}
	x.place(e)
	x.count++
}

// place puts e into the first free slot of its probe sequence.
func (x *memIndex) place(e *memEntry) {
	mask := uint64(len(x.slots) - 1)
	i := x.hashOf(e) & mask
	for x.slots[i] != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = e
}

// remove drops e (found by its current key); it does nothing when e is not
// indexed.
func (x *memIndex) remove(e *memEntry) {
	if !x.keyed(e) {
		return
	}
	mask := uint64(len(x.slots) - 1)
	j := x.hashOf(e) & mask
	for x.slots[j] != e {
		if x.slots[j] == nil {
			return
		}
		j = (j + 1) & mask
	}
	// Backward-shift deletion: move later members of the probe run into
	// the hole when their home slot does not lie in (hole, their slot].
	x.slots[j] = nil
	for i := (j + 1) & mask; x.slots[i] != nil; i = (i + 1) & mask {
		home := x.hashOf(x.slots[i]) & mask
		if (i-home)&mask >= (i-j)&mask {
			x.slots[j], x.slots[i] = x.slots[i], nil
			j = i
		}
	}
	x.count--
	if len(x.slots) > minIndexSlots && x.count*16 < len(x.slots)*3 {
		x.resize(len(x.slots) / 2)
	}
}

// resize rehashes every entry into a table of n slots.
func (x *memIndex) resize(n int) {
	old := x.slots
	x.slots = make([]*memEntry, n)
	for _, e := range old {
		if e != nil {
			x.place(e)
		}
	}
}
