package store

import (
	"regexp"
	"strings"
)

// The rules of what uapid stores, in one place: every backend, the fixture
// loader and the API functions use them. The Valid* functions check the
// exact (already lower-cased) form; the Normalize* functions lower-case
// names, fill defaults and check a whole record.

var (
	userRE      = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)
	labelRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	localRE     = regexp.MustCompile(`^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*$`)
	localeRE    = regexp.MustCompile(`^[a-z]{2,3}(_[a-z0-9]{2,8})?$`)
	databaseRE  = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,50}$`)
	packageRE   = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9 _.-]{0,63}$`)
	aclRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	aclListRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// ValidPackageName reports whether name can name a hosting package: 1 to
// 64 letters, digits, spaces, "_", "-" and ".", not starting with a space
// or "." and not ending with a space.
func ValidPackageName(name string) bool {
	return packageRE.MatchString(name) && !strings.HasSuffix(name, " ")
}

// ValidACLName reports whether name has the form of a WHM privilege name
// ("create-acct", "all"): lower-case letters, digits and "-".
func ValidACLName(name string) bool { return aclRE.MatchString(name) }

// ValidACLListName reports whether name can name an ACL list.
func ValidACLListName(name string) bool { return aclListRE.MatchString(name) }

// ValidUser reports whether user is a valid cPanel account name:
// [a-z][a-z0-9]{0,15} and not "root".
func ValidUser(user string) bool {
	return user != RootUser && userRE.MatchString(user)
}

// ValidDomain reports whether domain is a valid lower-case host name with at
// least two labels: labels of 1–63 characters [a-z0-9-] not starting or
// ending with "-", at most 253 characters, no trailing dot, and a last label
// that is not all digits (so an IPv4 address is not a domain).
func ValidDomain(domain string) bool {
	if len(domain) > 253 {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// ValidLocalPart reports whether local is a valid mailbox name (the part
// before "@"): at most 64 characters of [a-z0-9_+-] in dot-separated runs.
func ValidLocalPart(local string) bool {
	return len(local) <= 64 && localRE.MatchString(local)
}

// ValidAddress reports whether address is a valid lower-case mailbox
// address "local@domain".
func ValidAddress(address string) bool {
	local, domain, ok := strings.Cut(address, "@")
	return ok && ValidLocalPart(local) && ValidDomain(domain)
}

// SplitAddress returns the local part and the domain of address (which need
// not be valid); ok is false when it has no "@".
func SplitAddress(address string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return "", "", false
	}
	return address[:i], address[i+1:], true
}

// ValidLocale reports whether locale has the form of a cPanel locale name
// ("en", "es_419", "pt_br", "zh_tw"). Whether the server offers it is
// checked elsewhere.
func ValidLocale(locale string) bool {
	return localeRE.MatchString(locale)
}

// ValidDatabaseName reports whether db is a valid name for a database of
// account user: [a-z0-9_], at most 64 characters, starting with "<user>_"
// (the prefix that the account's database privileges cover).
func ValidDatabaseName(user, db string) bool {
	return databaseRE.MatchString(db) && strings.HasPrefix(db, user+"_") && len(db) > len(user)+1
}

// ValidTokenName reports whether name is a valid API token name: 1–50
// characters [A-Za-z0-9_-].
func ValidTokenName(name string) bool {
	return tokenNameRE.MatchString(name)
}

// ValidPasswordHash reports whether hash can be stored as a password hash:
// at most 1024 bytes of printable ASCII without ":" (the separator of
// passwd-style files). It does not check that the format is one uapid can
// verify; "" means no password login.
func ValidPasswordHash(hash string) bool {
	if len(hash) > 1024 {
		return false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}
