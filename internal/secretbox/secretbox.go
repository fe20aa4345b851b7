// Package secretbox encrypts the secrets that uapid keeps at rest in shared
// stores (PostgreSQL, Redis): the fields of a session record that are not
// hashes, such as the temporary database password and the return URL.
//
// A Box seals with AES-256-GCM under the current key and opens what was
// sealed under the current key or under one older, read-only key, so that a
// key can be rotated without losing the records written before: configure
// the new key as current and the previous one as old, and drop the old key
// once every record sealed under it has expired (the longest session
// lifetime, --max-age).
//
// Sealed format (binary): version byte 1, the 4-byte key id (a SHA-256
// fingerprint of the key, which tells nothing about the key itself), a
// random 12-byte nonce, and the GCM ciphertext with its 16-byte tag. The
// caller's context (e.g. record id and field name) is bound as additional
// data, so a sealed value copied to another record or field does not open.
// The empty string seals to the empty value and opens as the empty string:
// emptiness is not a secret.
//
// Nonces are random; a key should seal fewer than 2^32 values (about two
// billion sessions) before it is rotated.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// MakeKeyHint tells a user how to make a key file.
const MakeKeyHint = "make one with: head -c32 /dev/urandom | base64 > secret.key"

const (
	version   = 1
	idLen     = 4
	nonceLen  = 12
	tagLen    = 16
	headerLen = 1 + idLen + nonceLen
)

// Overhead is how many bytes sealing adds to a non-empty plaintext.
const Overhead = headerLen + tagLen

var (
	// ErrKeyFormat: a key is not 32 bytes written as base64 or hex.
	ErrKeyFormat = errors.New("secretbox: a key must be 32 bytes written as base64 or hex (" + MakeKeyHint + ")")
	// ErrUnknownKey: the value was sealed under a key this Box does not
	// hold (neither the current nor the old key).
	ErrUnknownKey = errors.New("secretbox: sealed under a key that is not configured (neither the current nor the old key)")
	// ErrOpen: the value is malformed, was changed, or belongs to another
	// context.
	ErrOpen = errors.New("secretbox: cannot open a sealed value (malformed, tampered with, or from another record)")
)

type key struct {
	id   [idLen]byte
	aead cipher.AEAD
}

// Box seals and opens values. It is safe for concurrent use.
type Box struct {
	cur key
	old *key
}

// New returns a Box sealing under current and also opening what old (nil:
// none) sealed. Both must be KeySize bytes; they are copied.
func New(current, old []byte) (*Box, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, err
	}
	b := &Box{cur: cur}
	if old != nil {
		o, err := newKey(old)
		if err != nil {
			return nil, fmt.Errorf("old key: %w", err)
		}
		if o.id == cur.id && bytes.Equal(current, old) {
			return nil, errors.New("secretbox: the old key is the same as the current key")
		}
		b.old = &o
	}
	return b, nil
}

func newKey(k []byte) (key, error) {
	if len(k) != KeySize {
		return key{}, ErrKeyFormat
	}
	block, err := aes.NewCipher(bytes.Clone(k))
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	var out key
	out.aead = aead
	sum := sha256.Sum256(append([]byte("uapid secretbox key id\x00"), k...))
	copy(out.id[:], sum[:idLen])
	return out, nil
}

// Seal encrypts plaintext under the current key, binding context. An empty
// plaintext gives an empty result.
func (b *Box) Seal(plaintext, context []byte) []byte {
	if len(plaintext) == 0 {
		return []byte{}
	}
	out := make([]byte, headerLen, headerLen+len(plaintext)+tagLen)
	out[0] = version
	copy(out[1:], b.cur.id[:])
	if _, err := rand.Read(out[1+idLen : headerLen]); err != nil {
		panic("secretbox: crypto/rand failed: " + err.Error())
	}
	return b.cur.aead.Seal(out, out[1+idLen:headerLen], plaintext, aad(out[:1+idLen], context))
}

// Open decrypts a value sealed by Seal (under the current or the old key)
// with the same context. An empty value opens as empty.
func (b *Box) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return []byte{}, nil
	}
	if len(sealed) < headerLen+tagLen || sealed[0] != version {
		return nil, ErrOpen
	}
	var id [idLen]byte
	copy(id[:], sealed[1:])
	nonce, ct := sealed[1+idLen:headerLen], sealed[headerLen:]
	ad := aad(sealed[:1+idLen], context)
	tried := false
	for _, k := range []*key{&b.cur, b.old} {
		if k == nil || k.id != id {
			continue
		}
		tried = true
		if pt, err := k.aead.Open(nil, nonce, ct, ad); err == nil {
			return pt, nil
		}
	}
	if !tried {
		return nil, ErrUnknownKey
	}
	return nil, ErrOpen
}

// SealString is Seal for strings.
func (b *Box) SealString(plaintext, context string) []byte {
	return b.Seal([]byte(plaintext), []byte(context))
}

// OpenString is Open for strings.
func (b *Box) OpenString(sealed []byte, context string) (string, error) {
	pt, err := b.Open(sealed, []byte(context))
	return string(pt), err
}

// SealedWithOld reports whether sealed was written under the old key (so
// that it must stay configured until the value is gone).
func (b *Box) SealedWithOld(sealed []byte) bool {
	return b.old != nil && len(sealed) >= headerLen && bytes.Equal(sealed[1:1+idLen], b.old.id[:])
}

// aad is the additional data: the header (version and key id) and the
// caller's context.
func aad(header, context []byte) []byte {
	out := make([]byte, 0, len(header)+len(context))
	out = append(out, header...)
	return append(out, context...)
}

// ParseKey reads a key written as text: 32 bytes in standard or URL-safe
// base64 (padded or not) or in hex (64 digits). Surrounding white space is
// ignored. The error never contains the text.
func ParseKey(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, ErrKeyFormat
}

// ReadKeyFile reads a key file (see ParseKey). Errors name the file, never
// its content.
func ReadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read the key file %s: %v", path, err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// NewKey returns a fresh random key (for tests and key generation).
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("secretbox: crypto/rand failed: " + err.Error())
	}
	return k
}
