package session

import (
	"crypto/sha256"
	"time"
)

// hashLen is the length of HashSecret's output; stored hashes are empty or
// exactly this long.
const hashLen = sha256.Size

// validHash reports whether h may be stored as a LoginHash or CookieHash.
func validHash(h []byte) bool { return len(h) == 0 || len(h) == hashLen }

// validate checks what every Store requires of a record given to Create.
func validate(r *Record) error {
	if r.ID == "" || r.Token == "" || !validHash(r.LoginHash) || !validHash(r.CookieHash) {
		return ErrInvalid
	}
	for _, f := range [...]string{r.ID, r.User, r.Account, r.Service, r.Token, r.Creator,
		r.Method, r.Origin, r.Locale, r.ReturnURL, r.TempUser, r.TempPass} {
		if len(f) > MaxFieldLen {
			return ErrInvalid
		}
	}
	return nil
}

// fromMilli turns a stored unix-millisecond time back into a time.Time in
// UTC (the zero time.Time survives the round trip).
func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nonEmpty returns h, or nil when h is empty, so that "no hash" is always nil.
func nonEmpty(h []byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return h
}
