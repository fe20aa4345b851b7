package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of free-text fields.
const (
	// MaxFieldLen is the longest text field of a session record.
	MaxFieldLen = 8192
	// MaxNoteLen bounds an account's plan, contact address and suspension
	// reason.
	MaxNoteLen = 1024
)

// Text reports whether s can be stored in any backend: valid UTF-8 with no
// NUL byte (what PostgreSQL text holds).
func Text(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// note reports whether s is acceptable as a one-line note: text without
// control characters, at most MaxNoteLen bytes.
func note(s string) bool {
	return len(s) <= MaxNoteLen && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// NormalizeAccount lower-cases and checks a, filling the defaults (locale
// "en", owner "root") and clearing the suspension fields of an account
// that is not suspended. It checks everything that needs no other record.
func NormalizeAccount(a Account) (Account, error) {
	a.User = strings.ToLower(a.User)
	switch {
	case a.User == RootUser:
		return a, Errorf(ErrInvalid, "“root” is the superuser and cannot be an account")
	case !ValidUser(a.User):
		return a, Errorf(ErrInvalid, "“%s” is not a valid user name (a lower-case letter followed by up to 15 lower-case letters or digits)", printable(a.User))
	}
	if !ValidPasswordHash(a.PasswordHash) {
		return a, Errorf(ErrInvalid, "the password hash of “%s” is not a valid crypt string", a.User)
	}
	if a.Locale == "" {
		a.Locale = "en"
	}
	if !ValidLocale(a.Locale) {
		return a, Errorf(ErrInvalid, "“%s” is not a valid locale name", printable(a.Locale))
	}
	a.Owner = strings.ToLower(a.Owner)
	if a.Owner == "" {
		a.Owner = RootUser
	}
	if a.Owner != RootUser && !ValidUser(a.Owner) {
		return a, Errorf(ErrInvalid, "owner “%s” is not a valid user name", printable(a.Owner))
	}
	if a.Owner == a.User && !a.Reseller {
		return a, Errorf(ErrInvalid, "account “%s” can only own itself if it is a reseller", a.User)
	}
	domains := make([]string, 0, len(a.Domains))
	for _, d := range a.Domains {
		d = strings.ToLower(d)
		if !ValidDomain(d) {
			return a, Errorf(ErrInvalid, "“%s” is not a valid domain name", printable(d))
		}
		if slices.Contains(domains, d) {
			return a, Errorf(ErrInvalid, "domain “%s” is listed twice", d)
		}
		domains = append(domains, d)
	}
	a.Domains = domains
	dbs := make([]string, 0, len(a.Databases))
	for _, db := range a.Databases {
		if !ValidDatabaseName(a.User, db) {
			return a, Errorf(ErrInvalid, "“%s” is not a valid database name for “%s” (lower-case letters, digits and “_”, at most 64 characters, starting with “%s_”)", printable(db), a.User, a.User)
		}
		if slices.Contains(dbs, db) {
			return a, Errorf(ErrInvalid, "database “%s” is listed twice", db)
		}
		dbs = append(dbs, db)
	}
	a.Databases = dbs
	if !note(a.Plan) {
		return a, Errorf(ErrInvalid, "the plan of “%s” is not a valid name (one line of at most %d bytes)", a.User, MaxNoteLen)
	}
	if a.ContactEmail != "" && !validContact(a.ContactEmail) {
		return a, Errorf(ErrInvalid, "“%s” is not a valid email address", printable(a.ContactEmail))
	}
	if !a.Suspended {
		a.SuspendReason, a.SuspendedAt, a.SuspendLocked = "", time.Time{}, false
	}
	if err := checkLimits(a.Limits); err != nil {
		return a, Errorf(ErrInvalid, "the limits of “%s” are not valid: %s", a.User, err.Error())
	}
	if !a.Reseller {
		a.ACLs = nil
	}
	acls, err := normalizeACLs(a.ACLs)
	if err != nil {
		return a, err
	}
	a.ACLs = acls
	if !note(a.SuspendReason) {
		return a, Errorf(ErrInvalid, "the suspension reason of “%s” is not valid (one line of at most %d bytes)", a.User, MaxNoteLen)
	}
	return a, nil
}

// validContact reports whether s is acceptable as a contact address:
// "local@domain" with a valid domain, at most 254 bytes, no white space.
func validContact(s string) bool {
	_, dom, ok := SplitAddress(strings.ToLower(s))
	return ok && len(s) <= 254 && ValidDomain(dom) && note(s) && !strings.ContainsAny(s, " \t")
}

// ValidContactEmail reports whether s is acceptable as an account's
// contact e-mail address.
func ValidContactEmail(s string) bool { return validContact(s) }

// SameAccount compares everything an account stores except CreatedAt.
func SameAccount(a, b Account) bool {
	return a.User == b.User && a.PasswordHash == b.PasswordHash && a.Locale == b.Locale &&
		a.Owner == b.Owner && a.Reseller == b.Reseller &&
		slices.Equal(a.Domains, b.Domains) && slices.Equal(a.Databases, b.Databases) &&
		a.Plan == b.Plan && a.ContactEmail == b.ContactEmail &&
		a.Suspended == b.Suspended && a.SuspendReason == b.SuspendReason &&
		a.SuspendedAt.Equal(b.SuspendedAt) && a.SuspendLocked == b.SuspendLocked &&
		a.Limits == b.Limits && slices.Equal(a.ACLs, b.ACLs)
}

// checkLimits checks that every limit is a finite number >= 0 or
// unlimited, and the names are one-line notes of at most 64 bytes.
func checkLimits(l Limits) error {
	for _, v := range []Limit{l.Quota, l.BWLimit, l.MaxFTP, l.MaxSQL, l.MaxPOP, l.MaxLists, l.MaxSub,
		l.MaxPark, l.MaxAddon, l.MaxPassengerApps, l.MaxEmailAcctQuota, l.MaxEmailPerHour,
		l.MaxDeferFailPercent, l.MaxTeamUsers} {
		if v.Limited && v.N < 0 {
			return fmt.Errorf("a limit cannot be negative")
		}
	}
	for _, s := range []string{l.FeatureList, l.Theme} {
		if len(s) > 64 || !note(s) {
			return fmt.Errorf("“%s” is not a valid feature list or theme name", printable(s))
		}
	}
	return nil
}

// normalizeACLs sorts acls and drops duplicates; every name must be a
// valid ACL name.
func normalizeACLs(acls []string) ([]string, error) {
	if len(acls) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(acls))
	for _, a := range acls {
		if !ValidACLName(a) {
			return nil, Errorf(ErrInvalid, "“%s” is not a valid privilege name", printable(a))
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// NormalizePackage checks p and fills its defaults (owner "root").
func NormalizePackage(p Package) (Package, error) {
	if !ValidPackageName(p.Name) {
		return p, Errorf(ErrInvalid, "“%s” is not a valid package name (1 to 64 letters, digits, spaces, “_”, “-” and “.”, not starting with a space or “.”)", printable(p.Name))
	}
	p.Owner = strings.ToLower(p.Owner)
	if p.Owner == "" {
		p.Owner = RootUser
	}
	if p.Owner != RootUser && !ValidUser(p.Owner) {
		return p, Errorf(ErrInvalid, "owner “%s” is not a valid user name", printable(p.Owner))
	}
	if err := checkLimits(p.Limits); err != nil {
		return p, Errorf(ErrInvalid, "the limits of package “%s” are not valid: %s", p.Name, err.Error())
	}
	if p.Language != "" && !ValidLocale(p.Language) {
		return p, Errorf(ErrInvalid, "“%s” is not a valid locale name", printable(p.Language))
	}
	return p, nil
}

// NormalizeACLList checks l and sorts its ACLs.
func NormalizeACLList(l ACLList) (ACLList, error) {
	if !ValidACLListName(l.Name) {
		return l, Errorf(ErrInvalid, "“%s” is not a valid ACL list name (1 to 64 letters, digits, “_” and “-”)", printable(l.Name))
	}
	acls, err := normalizeACLs(l.ACLs)
	if err != nil {
		return l, err
	}
	l.ACLs = acls
	return l, nil
}

// NormalizeMailbox lower-cases and checks m (its Account may be empty:
// the owner of its domain) and returns it with its domain.
func NormalizeMailbox(m Mailbox) (Mailbox, string, error) {
	m.Address = strings.ToLower(m.Address)
	m.Account = strings.ToLower(m.Account)
	local, domain, ok := SplitAddress(m.Address)
	if !ok || !ValidLocalPart(local) || !ValidDomain(domain) {
		return m, "", Errorf(ErrInvalid, "“%s” is not a valid mailbox address", printable(m.Address))
	}
	if m.Account != "" && !ValidUser(m.Account) {
		return m, "", Errorf(ErrNotFound, "account “%s” does not exist", printable(m.Account))
	}
	if !ValidPasswordHash(m.PasswordHash) {
		return m, "", Errorf(ErrInvalid, "the password hash of “%s” is not a valid crypt string", m.Address)
	}
	if m.Quota < 0 {
		return m, "", Errorf(ErrInvalid, "the quota of “%s” is negative", m.Address)
	}
	return m, domain, nil
}

// NormalizeToken lower-cases the user of t and checks it.
func NormalizeToken(t Token) (Token, error) {
	t.User = strings.ToLower(t.User)
	if t.User != RootUser && !ValidUser(t.User) {
		return t, Errorf(ErrNotFound, "account “%s” does not exist", printable(t.User))
	}
	if !ValidTokenName(t.Name) {
		return t, Errorf(ErrInvalid, "“%s” is not a valid token name (1 to 50 letters, digits, “_” or “-”)", printable(t.Name))
	}
	if len(t.Hash) != 32 && len(t.Hash) != 64 {
		return t, Errorf(ErrInvalid, "the hash of token “%s” is neither a SHA-256 nor a SHA-512", t.Name)
	}
	for _, p := range t.AllowIPs {
		if !p.IsValid() {
			return t, Errorf(ErrInvalid, "token “%s” has an invalid address prefix in its allow-list", t.Name)
		}
	}
	return t, nil
}

// SessionHashLen is the length of a session's LoginHash and CookieHash
// (SHA-256).
const SessionHashLen = 32

// ValidSessionHash reports whether h may be stored as a LoginHash or
// CookieHash: empty or SessionHashLen bytes.
func ValidSessionHash(h []byte) bool { return len(h) == 0 || len(h) == SessionHashLen }

// ValidateSession checks what every Sessions store requires of a record
// given to Create: an ID and a Token, hashes of the right length, and text
// fields that are valid UTF-8 without NUL and at most MaxFieldLen bytes.
func ValidateSession(r *Session) error {
	if r.ID == "" || r.Token == "" || !ValidSessionHash(r.LoginHash) || !ValidSessionHash(r.CookieHash) {
		return Errorf(ErrInvalid, "a session needs an id, a token and hashes of %d bytes", SessionHashLen)
	}
	for _, f := range [...]string{r.ID, r.User, r.Account, r.Service, r.Token, r.Creator,
		r.Method, r.Origin, r.Locale, r.ReturnURL, r.TempUser, r.TempPass} {
		if len(f) > MaxFieldLen || !Text(f) {
			return Errorf(ErrInvalid, "a session's text fields must be UTF-8 text of at most %d bytes", MaxFieldLen)
		}
	}
	return nil
}

// printable returns s for an error message: at most 100 bytes, with
// control characters and invalid UTF-8 escaped.
func printable(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

// ListNames quotes up to five names for a message ("“a”, “b”, and 3 more").
func ListNames(names []string) string {
	const max = 5
	quoted := make([]string, 0, max+1)
	for i, n := range names {
		if i == max {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		quoted = append(quoted, "“"+n+"”")
	}
	return strings.Join(quoted, ", ")
}

// DefaultResellerACLs are the privileges of a reseller that was made
// without ACLs being set through uapid: a reseller carried over from a
// release that did not model ACLs, or one a fixture declares without
// "acls". They are the privileges uapid checks.
var DefaultResellerACLs = []string{"add-pkg", "create-acct", "edit-account", "edit-pkg", "kill-acct",
	"list-accts", "passwd", "show-bandwidth", "suspend-acct", "upgrade-account", "viewglobalpackages"}

// MaxOAuthFieldLen bounds the text fields of OAuth codes and tokens (a
// redirect URI is the longest).
const MaxOAuthFieldLen = 2048

// ValidateOAuthCode checks what every OAuth store requires of a code given
// to CreateOAuthCode: a hash of SessionHashLen bytes, a session and a
// client, text fields of at most MaxOAuthFieldLen bytes, and an expiry
// after its creation (at millisecond precision).
func ValidateOAuthCode(c *OAuthCode) error {
	if len(c.Hash) != SessionHashLen || c.SessionID == "" || c.ClientID == "" {
		return Errorf(ErrInvalid, "an authorization code needs a hash of %d bytes, a session and a client", SessionHashLen)
	}
	for _, f := range [...]string{c.SessionID, c.ClientID, c.RedirectURI, c.Challenge} {
		if len(f) > MaxOAuthFieldLen || !Text(f) {
			return Errorf(ErrInvalid, "an authorization code's text fields must be UTF-8 text of at most %d bytes", MaxOAuthFieldLen)
		}
	}
	if c.ExpiresAt.UnixMilli() <= c.CreatedAt.UnixMilli() {
		return Errorf(ErrInvalid, "an authorization code must expire after its creation")
	}
	return nil
}

// ValidateOAuthToken checks what every OAuth store requires of a token
// given to CreateOAuthToken: a hash and a grant of SessionHashLen bytes, a
// known kind, a session and a client, and an expiry after its creation.
func ValidateOAuthToken(t *OAuthToken) error {
	if len(t.Hash) != SessionHashLen || len(t.Grant) != SessionHashLen || t.SessionID == "" || t.ClientID == "" {
		return Errorf(ErrInvalid, "a token needs a hash and a grant of %d bytes, a session and a client", SessionHashLen)
	}
	if t.Kind != OAuthAccess && t.Kind != OAuthRefresh {
		return Errorf(ErrInvalid, "a token's kind is %q or %q", OAuthAccess, OAuthRefresh)
	}
	for _, f := range [...]string{t.SessionID, t.ClientID} {
		if len(f) > MaxOAuthFieldLen || !Text(f) {
			return Errorf(ErrInvalid, "a token's text fields must be UTF-8 text of at most %d bytes", MaxOAuthFieldLen)
		}
	}
	if t.ExpiresAt.UnixMilli() <= t.CreatedAt.UnixMilli() {
		return Errorf(ErrInvalid, "a token must expire after its creation")
	}
	return nil
}
