// Package passwd makes and checks password hashes in the crypt(3) formats
// that Dovecot, cPanel and Linux shadow files use.
//
// New hashes are SHA-512 crypt ("$6$", 16-character salt, the default 5000
// rounds, so without a "rounds=" field), exactly what `mkpasswd -m
// sha512crypt` writes. Verify accepts SHA-512 and SHA-256 crypt (with or
// without "rounds="), MD5 crypt ("$1$"), yescrypt ("$y$", Debian's default),
// bcrypt ("$2a$", "$2b$", "$2y$") and Argon2 ("$argon2id$", also "$argon2i$"
// and "$argon2d$"). A Dovecot scheme prefix such as "{SHA512-CRYPT}" or
// "{CRYPT}" in front of one of those is accepted too.
//
// A hash starting with "!" is a locked (suspended) login and never matches;
// one starting with "*" never matches; anything else that is not one of the
// formats above never matches either.
package passwd

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"github.com/go-crypt/x/yescrypt"
)

// Rounds is the SHA-512 crypt round count of new hashes: crypt(3)'s default,
// which its output leaves implicit.
const Rounds = 5000

// saltChars is the crypt(3) salt alphabet. It has 64 characters, so a random
// byte masked with 63 picks one uniformly.
const saltChars = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// maxHashLen bounds the hash strings Verify looks at; every supported
// format is far shorter.
const maxHashLen = 1024

// decoder decodes exactly the formats uapid accepts (no plaintext, no
// PBKDF2, no scrypt "$7$", no bcrypt "$2x$").
var decoder = newDecoder()

func newDecoder() *crypt.Decoder {
	d := crypt.NewDecoder()
	must := func(err error) {
		if err != nil {
			panic("passwd: " + err.Error())
		}
	}
	must(shacrypt.RegisterDecoder(d))
	must(md5crypt.RegisterDecoderCommon(d))
	bc := bcrypt.DecodeVariant(bcrypt.VariantStandard)
	for _, id := range []string{"2a", "2b", "2y"} {
		must(d.RegisterDecodeFunc(id, bc))
	}
	must(argon2.RegisterDecoder(d))
	return d
}

// Hash returns a new SHA-512 crypt hash of password with a random 16-character
// salt and the default 5000 rounds: "$6$<salt>$<hash>".
func Hash(password string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("passwd: read random salt: %w", err)
	}
	for i := range b {
		b[i] = saltChars[b[i]&63]
	}
	h, err := shacrypt.New(shacrypt.WithSHA512(), shacrypt.WithIterations(Rounds))
	if err != nil {
		return "", fmt.Errorf("passwd: %w", err)
	}
	d, err := h.HashWithSalt(password, b[:])
	if err != nil {
		return "", fmt.Errorf("passwd: %w", err)
	}
	return d.Encode(), nil
}

// Verify reports whether password matches hash. It never panics: a locked,
// disabled, malformed or unsupported hash simply does not match. The final
// comparison runs in constant time.
func Verify(hash, password string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if hash == "" || len(hash) > maxHashLen || hash[0] == '!' || hash[0] == '*' {
		return false
	}
	hash = stripScheme(hash)
	if strings.HasPrefix(hash, "$y$") {
		return verifyYescrypt(hash, password)
	}
	d, err := decodeDigest(hash)
	if err != nil {
		return false
	}
	return d.Match(password)
}

// Locked reports whether hash is a locked login: crypt strings with a leading
// "!" (as `passwd -l` and `usermod -L` write them, and as cPanel marks a
// suspended mailbox login).
func Locked(hash string) bool {
	return strings.HasPrefix(hash, "!")
}

// Scheme names the format of hash: "sha512crypt", "sha256crypt",
// "md5crypt", "yescrypt", "bcrypt", "argon2id", "argon2i" or "argon2d"; "locked"
// for a leading "!", "disabled" for a leading "*" or an empty hash, and ""
// for anything Verify cannot check. It only looks at the form, so a
// well-formed prefix with a damaged tail may still be named.
func Scheme(hash string) string {
	switch {
	case hash == "" || hash[0] == '*':
		return "disabled"
	case hash[0] == '!':
		return "locked"
	case len(hash) > maxHashLen:
		return ""
	}
	hash = stripScheme(hash)
	switch {
	case strings.HasPrefix(hash, "$y$"):
		if validYescrypt(hash) {
			return "yescrypt"
		}
		return ""
	case strings.HasPrefix(hash, "$6$"):
		return schemeIfDecodes(hash, "sha512crypt")
	case strings.HasPrefix(hash, "$5$"):
		return schemeIfDecodes(hash, "sha256crypt")
	case strings.HasPrefix(hash, "$1$"):
		return schemeIfDecodes(hash, "md5crypt")
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return schemeIfDecodes(hash, "bcrypt")
	case strings.HasPrefix(hash, "$argon2id$"):
		return schemeIfDecodes(hash, "argon2id")
	case strings.HasPrefix(hash, "$argon2i$"):
		return schemeIfDecodes(hash, "argon2i")
	case strings.HasPrefix(hash, "$argon2d$"):
		return schemeIfDecodes(hash, "argon2d")
	}
	return ""
}

func schemeIfDecodes(hash, name string) string {
	if _, err := decodeDigest(hash); err != nil {
		return ""
	}
	return name
}

// decodeDigest decodes hash with the restricted decoder, turning a panic of
// the library into an error.
func decodeDigest(hash string) (d algorithm.Digest, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("passwd: malformed hash")
		}
	}()
	return decoder.Decode(hash)
}

// dovecotSchemes are the Dovecot password scheme prefixes whose value is a
// crypt string of one of the supported formats.
var dovecotSchemes = []string{
	"{CRYPT}", "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{MD5-CRYPT}", "{BLF-CRYPT}",
	"{ARGON2ID}", "{ARGON2I}",
}

// stripScheme removes a leading Dovecot scheme prefix ("{SHA512-CRYPT}$6$…").
func stripScheme(hash string) string {
	if !strings.HasPrefix(hash, "{") {
		return hash
	}
	for _, p := range dovecotSchemes {
		if len(hash) > len(p) && strings.EqualFold(hash[:len(p)], p) {
			return hash[len(p):]
		}
	}
	return hash
}

// validYescrypt checks the form "$y$<params>$<salt>$<hash>" that
// verifyYescrypt can compute.
func validYescrypt(hash string) bool {
	parts := strings.Split(hash, "$")
	// "", "y", params, salt, hash
	if len(parts) != 5 || len(parts[2]) < 3 || parts[4] == "" {
		return false
	}
	for _, p := range parts[2:] {
		for i := 0; i < len(p); i++ {
			if strings.IndexByte(saltChars, p[i]) < 0 {
				return false
			}
		}
	}
	return true
}

// verifyYescrypt recomputes the yescrypt hash of password with the
// parameters and salt of hash and compares the whole strings in constant
// time.
func verifyYescrypt(hash, password string) bool {
	if !validYescrypt(hash) {
		return false
	}
	got, err := yescrypt.Hash([]byte(password), []byte(hash))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, []byte(hash)) == 1
}
