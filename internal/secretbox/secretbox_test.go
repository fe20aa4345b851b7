package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustBox(t *testing.T, cur, old []byte) *Box {
	t.Helper()
	b, err := New(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := mustBox(t, NewKey(), nil)
	for _, pt := range []string{"x", "hunter2_0123456789ABCDEFGHIJKLMNO", strings.Repeat("é", 5000)} {
		s := b.SealString(pt, "ctx")
		if len(s) != len(pt)+Overhead {
			t.Errorf("sealed length %d, want %d", len(s), len(pt)+Overhead)
		}
		// A short plaintext turns up in random bytes by chance (a
		// one-byte one in about one sealed value of nine): only a
		// plaintext long enough that chance cannot explain it counts.
		if len(pt) >= 8 && bytes.Contains(s, []byte(pt)) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := b.OpenString(s, "ctx")
		if err != nil || got != pt {
			t.Errorf("Open = %q, %v", got, err)
		}
		// Fresh nonce every time.
		if bytes.Equal(s, b.SealString(pt, "ctx")) {
			t.Errorf("two seals of the same value are equal")
		}
	}
	if s := b.SealString("", "ctx"); len(s) != 0 {
		t.Errorf("empty plaintext sealed to %d bytes", len(s))
	}
	if got, err := b.OpenString(nil, "ctx"); err != nil || got != "" {
		t.Errorf("Open(empty) = %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	b := mustBox(t, NewKey(), nil)
	s := b.SealString("secret", "session/abc/temp_pass")
	if _, err := b.OpenString(s, "session/abd/temp_pass"); !errors.Is(err, ErrOpen) {
		t.Errorf("other context: %v, want ErrOpen", err)
	}
	for i := range s {
		c := bytes.Clone(s)
		c[i] ^= 1
		_, err := b.OpenString(c, "session/abc/temp_pass")
		if err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for _, bad := range [][]byte{{1}, {2, 0, 0, 0, 0}, s[:len(s)-1]} {
		if _, err := b.Open(bad, nil); err == nil {
			t.Errorf("Open(%x) succeeded", bad)
		}
	}
	other := mustBox(t, NewKey(), nil)
	if _, err := other.OpenString(s, "session/abc/temp_pass"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("other key: %v, want ErrUnknownKey", err)
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	before := mustBox(t, k1, nil)
	sealed := before.SealString("pw", "c")
	after := mustBox(t, k2, k1)
	if got, err := after.OpenString(sealed, "c"); err != nil || got != "pw" {
		t.Fatalf("old value under the rotated box: %q, %v", got, err)
	}
	if !after.SealedWithOld(sealed) {
		t.Error("SealedWithOld = false for a value sealed under the old key")
	}
	fresh := after.SealString("pw", "c")
	if after.SealedWithOld(fresh) {
		t.Error("new values are sealed under the old key")
	}
	if _, err := before.OpenString(fresh, "c"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("the old key opens new values: %v", err)
	}
	// Once the old key is dropped, its values no longer open.
	if _, err := mustBox(t, k2, nil).OpenString(sealed, "c"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("without the old key: %v", err)
	}
	if _, err := New(k1, k1); err == nil {
		t.Error("New accepted the same key as current and old")
	}
	if _, err := New(k1, k1[:16]); err == nil {
		t.Error("New accepted a short old key")
	}
}

func TestParseKey(t *testing.T) {
	k := NewKey()
	for name, text := range map[string]string{
		"base64":             base64.StdEncoding.EncodeToString(k) + "\n",
		"raw base64":         base64.RawStdEncoding.EncodeToString(k),
		"url base64":         base64.URLEncoding.EncodeToString(k),
		"raw url base64":     "  " + base64.RawURLEncoding.EncodeToString(k) + "\r\n",
		"hex":                hex.EncodeToString(k),
		"upper hex, newline": strings.ToUpper(hex.EncodeToString(k)) + "\n",
	} {
		got, err := ParseKey([]byte(text))
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	for name, text := range map[string]string{
		"empty":      "",
		"short":      base64.StdEncoding.EncodeToString(k[:31]),
		"long":       base64.StdEncoding.EncodeToString(append(k, 1)),
		"short hex":  hex.EncodeToString(k[:16]),
		"not base64": strings.Repeat("!", 44),
		"passphrase": "correct horse battery staple",
	} {
		_, err := ParseKey([]byte(text))
		if !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%s: %v, want ErrKeyFormat", name, err)
		}
		if text != "" && err != nil && strings.Contains(err.Error(), text) {
			t.Errorf("%s: the error shows the key text", name)
		}
	}
	if !strings.Contains(ErrKeyFormat.Error(), "head -c32 /dev/urandom | base64") {
		t.Errorf("ErrKeyFormat does not say how to make a key: %v", ErrKeyFormat)
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	k := NewKey()
	good := filepath.Join(dir, "key")
	os.WriteFile(good, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600)
	if got, err := ReadKeyFile(good); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("ReadKeyFile = %x, %v", got, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not-a-key-at-all\n"), 0o600)
	_, err := ReadKeyFile(bad)
	if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "not-a-key") {
		t.Errorf("bad key file: %v", err)
	}
	_, err = ReadKeyFile(filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "no such file") || strings.Count(err.Error(), "missing") != 1 {
		t.Errorf("missing key file: %v", err)
	}
}
