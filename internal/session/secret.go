package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Session tags: the part of a login session string that says which API
// created it.
const (
	// TagMailUser marks sessions from Session::create_webmail_session_for_mail_user
	// and its _check_password variant.
	TagMailUser = "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER"
	// TagSelf marks sessions from Session::create_webmail_session_for_self.
	TagSelf = "CREATE_WEBMAIL_SESSION_FOR_SELF"
	// TagUserSession marks sessions from WHM API 1 create_user_session.
	TagUserSession = "create_user_session"
)

const (
	tokenPrefix = "/cpsess"
	tokenDigits = 10
	tokenLen    = len(tokenPrefix) + tokenDigits

	// maxUserLen bounds the user part of a secret string (an e-mail address
	// is at most 254 bytes).
	maxUserLen = 255

	alnumUnderscore = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
	digitsLower     = "0123456789abcdefghijklmnopqrstuvwxyz"

	randPartLen   = 16 // the "<16 chars [0-9A-Za-z_]>" part of secrets
	secretHexLen  = 32 // 128 bits as lower-case hex
	idLen         = 20 // 10 characters of time, 10 of randomness (base32)
	tempSuffixLen = 8
	tempPassLen   = 32
)

// randRead fills b from crypto/rand. Since Go 1.24 crypto/rand.Read never
// returns an error (the runtime aborts if the system source fails), but the
// check stays so that a broken source can never yield predictable secrets.
func randRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("session: crypto/rand failed: " + err.Error())
	}
}

// randString returns n characters drawn uniformly from alphabet (at most 256
// characters) with crypto/rand, by rejection sampling of random bytes.
func randString(alphabet string, n int) string {
	// Accept bytes below the largest multiple of len(alphabet) that fits in
	// a byte, so that b % len(alphabet) is uniform.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		// Read a little more than is still needed, to cover rejections.
		need := n - len(out)
		chunk := buf[:min(len(buf), need+need/4+4)]
		randRead(chunk)
		for _, b := range chunk {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// NewToken returns a fresh security token: "/cpsess" followed by exactly 10
// decimal digits, uniformly random over 0000000001..9999999999 (never all
// zeros).
func NewToken() string {
	const span = 10_000_000_000 // 10^10
	// Largest multiple of span not above 2^64, so that v % span is uniform.
	const limit = (1<<64 - 1) - (1<<64-1)%span - 1
	var b [8]byte
	for {
		randRead(b[:])
		v := binary.LittleEndian.Uint64(b[:])
		if v > limit {
			continue
		}
		v %= span
		if v == 0 {
			continue
		}
		var out [tokenLen]byte
		copy(out[:], tokenPrefix)
		for i := tokenLen - 1; i >= len(tokenPrefix); i-- {
			out[i] = byte('0' + v%10)
			v /= 10
		}
		return string(out[:])
	}
}

// ValidToken reports whether t is a security token: "/cpsess" followed by
// exactly 10 decimal digits. (A token of all zeros is never issued but is
// well-formed; it simply matches no session.)
func ValidToken(t string) bool {
	if len(t) != tokenLen || !strings.HasPrefix(t, tokenPrefix) {
		return false
	}
	for i := len(tokenPrefix); i < tokenLen; i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// TokenFromPath splits a URL path whose first segment is a security token,
// such as "/cpsess0123456789/login/", into the token ("/cpsess0123456789")
// and the rest ("/login/"; "" for "/cpsess0123456789" alone). ok is false
// when the first segment is not a valid token.
func TokenFromPath(path string) (token, rest string, ok bool) {
	if len(path) < tokenLen {
		return "", "", false
	}
	token, rest = path[:tokenLen], path[tokenLen:]
	if !ValidToken(token) || (rest != "" && rest[0] != '/') {
		return "", "", false
	}
	return token, rest, true
}

// newSecretHex returns 128 random bits as 32 lower-case hex characters.
func newSecretHex() string {
	var b [secretHexLen / 2]byte
	randRead(b[:])
	return hex.EncodeToString(b[:])
}

// NewLoginSecret returns a one-time login session string,
// "<user>:<16 chars [0-9A-Za-z_]>:<tag>,<32 lower-case hex>", whose last part
// is a 128-bit secret. The whole string is a bearer credential: store only
// HashSecret of it and never log it.
//
// user must be a valid user part (non-empty, at most 255 bytes of UTF-8
// without ':', ',', spaces or control characters) and tag one of the Tag
// constants; otherwise the result does not parse with ParseLoginSecret.
func NewLoginSecret(user, tag string) string {
	return user + ":" + randString(alnumUnderscore, randPartLen) + ":" + tag + "," + newSecretHex()
}

// ParseLoginSecret checks that s has the shape NewLoginSecret produces and
// returns its user and tag parts. It only checks the shape: the tag is any
// non-empty run of [A-Za-z0-9_], which callers compare with what they expect,
// and whether the secret is real is decided by looking up HashSecret(s).
func ParseLoginSecret(s string) (user, tag string, ok bool) {
	head, ok := cutSecret(s)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(head, ':')
	if i < 0 {
		return "", "", false
	}
	head, tag = head[:i], head[i+1:]
	if !validTag(tag) {
		return "", "", false
	}
	user, ok = cutRandPart(head)
	if !ok {
		return "", "", false
	}
	return user, tag, true
}

// NewCookieSecret returns a cookie session value,
// "<user>:<16 chars [0-9A-Za-z_]>,<32 lower-case hex>". Like a login secret
// it is a bearer credential: store only HashSecret of it and never log it.
// user follows the rules of NewLoginSecret.
func NewCookieSecret(user string) string {
	return user + ":" + randString(alnumUnderscore, randPartLen) + "," + newSecretHex()
}

// ParseCookieSecret checks that s has the shape NewCookieSecret produces and
// returns its user part.
func ParseCookieSecret(s string) (user string, ok bool) {
	head, ok := cutSecret(s)
	if !ok {
		return "", false
	}
	return cutRandPart(head)
}

// cutSecret splits off and checks the trailing ",<32 lower-case hex>".
func cutSecret(s string) (head string, ok bool) {
	if len(s) > maxUserLen+1+randPartLen+1+64+1+secretHexLen {
		return "", false
	}
	i := strings.LastIndexByte(s, ',')
	if i < 0 || len(s)-i-1 != secretHexLen {
		return "", false
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return s[:i], true
}

// cutRandPart splits "<user>:<16 chars [0-9A-Za-z_]>" and checks both parts.
func cutRandPart(s string) (user string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || len(s)-i-1 != randPartLen {
		return "", false
	}
	for j := i + 1; j < len(s); j++ {
		if !isAlnumUnderscore(s[j]) {
			return "", false
		}
	}
	user = s[:i]
	if !ValidUserPart(user) {
		return "", false
	}
	return user, true
}

// ValidUserPart reports whether u can be the user part of a login or cookie
// secret: 1 to 255 bytes of valid UTF-8 without ':', ',', spaces or control
// characters. cPanel user names, "root" and mailbox addresses qualify.
func ValidUserPart(u string) bool {
	if len(u) == 0 || len(u) > maxUserLen || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		switch {
		case r <= ' ', r == 0x7f, r == ':', r == ',':
			return false
		case r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029:
			return false
		}
	}
	return true
}

func validTag(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isAlnumUnderscore(t[i]) {
			return false
		}
	}
	return true
}

func isAlnumUnderscore(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// HashSecret returns the SHA-256 of a login or cookie secret string; stores
// keep and look up only this hash. A fast hash is right here: the secrets
// carry at least 128 random bits, so they cannot be guessed offline.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// idChars is base32 in ASCII order, so that identifiers sort as the
// numbers they encode.
const idChars = "234567abcdefghijklmnopqrstuvwxyz"

// NewID returns a public record identifier: 20 characters of lower-case
// base32, the first 10 the creation time in milliseconds and the last 10
// random (50 bits), so that identifiers made later sort later. Stores key
// sessions by it: a new session is written at the end of that key's
// B-tree, not at a random place. It is unguessable enough not to be
// enumerated, but it is not a secret (the creation time shows anyway).
func NewID() string { return newIDAt(time.Now()) }

func newIDAt(t time.Time) string {
	var b [idLen]byte
	ms := uint64(t.UnixMilli())
	for i := idLen/2 - 1; i >= 0; i-- {
		b[i] = idChars[ms&31]
		ms >>= 5
	}
	randRead(b[idLen/2:])
	for i := idLen / 2; i < idLen; i++ {
		b[i] = idChars[b[i]&31]
	}
	return string(b[:])
}

// NewTempUser reserves the name and password of a temporary database user
// for a session of account: the name is "cpses_" + the first 2 characters of
// account + 8 characters of [0-9a-z]; the password is 32 characters of
// [0-9A-Za-z_]. account is a cPanel user name ([a-z][a-z0-9]*), so the name
// is a plain SQL identifier.
func NewTempUser(account string) (name, password string) {
	prefix := account
	if len(prefix) > 2 {
		prefix = prefix[:2]
	}
	return "cpses_" + prefix + randString(digitsLower, tempSuffixLen), randString(alnumUnderscore, tempPassLen)
}
