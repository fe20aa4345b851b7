package cpanelimport

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The parsers of cPanel's files. Each takes a file's bytes and returns
// what it holds with the problems of its lines. A problem's reason never
// quotes a line, since a line may hold a password hash.

// lineProblem is a problem at a line of a file (0: the file as a whole).
type lineProblem struct {
	line   int
	reason string
}

// lines calls fn with each line (without its end) and its number,
// skipping empty lines and, when comments is true, lines starting with
// "#".
func lines(data []byte, comments bool, fn func(n int, line string)) {
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		t := strings.TrimSpace(l)
		if t == "" || (comments && strings.HasPrefix(t, "#")) {
			continue
		}
		fn(i+1, l)
	}
}

var cpuserKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parseCPUser reads an account file (/var/cpanel/users/USER, cp/USER in
// an archive): KEY=VALUE lines, "#" comments. Keys are upper-cased; the
// last of a repeated key wins.
func parseCPUser(data []byte) (map[string]string, []lineProblem) {
	kv := map[string]string{}
	var probs []lineProblem
	lines(data, true, func(n int, l string) {
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok || !cpuserKeyRE.MatchString(k) {
			probs = append(probs, lineProblem{n, "the line is not KEY=VALUE"})
			return
		}
		kv[strings.ToUpper(k)] = strings.TrimSpace(v)
	})
	return kv, probs
}

// field is one line of a file of colon-separated fields.
type field struct {
	line   int
	fields []string
}

// parseColons splits every line at ":" (comments skipped when asked).
func parseColons(data []byte, comments bool) []field {
	var out []field
	lines(data, comments, func(n int, l string) {
		out = append(out, field{n, strings.Split(l, ":")})
	})
	return out
}

// shadowEntry is a line of a shadow-style file: a name and its hash.
type shadowEntry struct {
	line       int
	name, hash string
}

// parseShadow reads /etc/shadow or a mailbox shadow file
// (~/etc/DOMAIN/shadow): "name:hash:…" lines (at least two fields; the
// rest, password ageing, is not used).
func parseShadow(data []byte) ([]shadowEntry, []lineProblem) {
	var out []shadowEntry
	var probs []lineProblem
	for _, f := range parseColons(data, false) {
		if len(f.fields) < 2 || strings.TrimSpace(f.fields[0]) == "" {
			probs = append(probs, lineProblem{f.line, "the line is not “name:password hash:…”"})
			continue
		}
		out = append(out, shadowEntry{f.line, strings.TrimSpace(f.fields[0]), strings.TrimSpace(f.fields[1])})
	}
	return out, probs
}

// pair is a "key: value" or "key:value" line.
type pair struct {
	line       int
	key, value string
}

// parsePairs reads files of "key: value" lines: /etc/trueuserowners
// (user: owner), /var/cpanel/resellers (reseller:acl,acl,…), a mailbox
// quota file (login:bytes). "#" lines are comments (trueuserowners starts
// with one).
func parsePairs(data []byte) ([]pair, []lineProblem) {
	var out []pair
	var probs []lineProblem
	lines(data, true, func(n int, l string) {
		k, v, ok := strings.Cut(l, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			probs = append(probs, lineProblem{n, "the line is not “name: value”"})
			return
		}
		out = append(out, pair{n, k, strings.TrimSpace(v)})
	})
	return out, probs
}

// userdataMain is /var/cpanel/userdata/USER/main (userdata/main in an
// archive): the account's domains by type.
type userdataMain struct {
	MainDomain    string            `yaml:"main_domain"`
	AddonDomains  map[string]string `yaml:"addon_domains"`
	ParkedDomains []string          `yaml:"parked_domains"`
	SubDomains    []string          `yaml:"sub_domains"`
}

// parseUserdataMain reads the YAML of userdata/main.
func parseUserdataMain(data []byte) (userdataMain, []lineProblem) {
	var u userdataMain
	if err := yaml.Unmarshal(data, &u); err != nil {
		return userdataMain{}, []lineProblem{{0, "not the YAML of a userdata file: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	return u, nil
}

// domains lists the domains of u: main, addon (sorted), parked and sub
// domains, in that order.
func (u userdataMain) domains() []string {
	var out []string
	if u.MainDomain != "" {
		out = append(out, u.MainDomain)
	}
	addons := make([]string, 0, len(u.AddonDomains))
	for d := range u.AddonDomains {
		addons = append(addons, d)
	}
	slices.Sort(addons)
	out = append(out, addons...)
	out = append(out, u.ParkedDomains...)
	return append(out, u.SubDomains...)
}

// rawToken is one API token as cPanel stores it (the key of its entry is
// the SHA-512 of the secret, in hex). Values are kept raw: cPanel's JSON
// writes numbers as numbers or strings.
type rawToken struct {
	Name          json.RawMessage `json:"name"`
	CreateTime    json.RawMessage `json:"create_time"`
	ExpiresAt     json.RawMessage `json:"expires_at"`
	WhitelistIPs  json.RawMessage `json:"whitelist_ips"`
	ACLs          json.RawMessage `json:"acls"`
	HasFullAccess json.RawMessage `json:"has_full_access"`
	Features      json.RawMessage `json:"features"`
}

// apiToken is a token read from a token file.
type apiToken struct {
	name     string
	digest   []byte // SHA-512 of the secret
	created  time.Time
	expires  time.Time // zero: never
	allow    []netip.Prefix
	hasACLs  bool     // WHM: an "acls" list is present (no list: full access)
	acls     []string // WHM
	fullCP   bool     // cPanel: has_full_access
	features []string // cPanel
}

// parseTokens reads a token file: /var/cpanel/authn/api_tokens_v2/
// {cpanel,whostmgr}/USER.json ({"tokens": {DIGEST: {…}}}) or
// api_tokens/{cpanel,whostmgr} in an archive (the same map without the
// "tokens" wrapper). Tokens come sorted by name.
func parseTokens(data []byte) ([]apiToken, []lineProblem) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []lineProblem{{jsonLine(data, err), "not a JSON object of API tokens"}}
	}
	entries := top
	if w, ok := top["tokens"]; ok {
		entries = nil
		if err := json.Unmarshal(w, &entries); err != nil {
			return nil, []lineProblem{{0, "its “tokens” member is not a JSON object"}}
		}
	}
	var out []apiToken
	var probs []lineProblem
	names := map[string]bool{}
	digests := make([]string, 0, len(entries))
	for k := range entries {
		digests = append(digests, k)
	}
	slices.Sort(digests)
	for _, k := range digests {
		t, msg := parseToken(k, entries[k])
		if msg == "" && names[t.name] {
			msg = fmt.Sprintf("two tokens are named “%s”; the second was not imported", t.name)
		}
		if msg != "" {
			probs = append(probs, lineProblem{0, msg})
			continue
		}
		names[t.name] = true
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b apiToken) int { return strings.Compare(a.name, b.name) })
	return out, probs
}

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,50}$`)

// parseToken reads one entry; msg says why it is not a token (it never
// quotes the key, which is a digest, or anything but the name).
func parseToken(key string, raw json.RawMessage) (apiToken, string) {
	var r rawToken
	if err := json.Unmarshal(raw, &r); err != nil {
		return apiToken{}, "an entry is not a JSON object; it was not imported"
	}
	var name string
	if json.Unmarshal(r.Name, &name) != nil || !tokenNameRE.MatchString(name) {
		return apiToken{}, "an entry has no valid name (1 to 50 letters, digits, “_” or “-”); it was not imported"
	}
	t := apiToken{name: name}
	digest, err := hex.DecodeString(strings.ToLower(key))
	if err != nil || len(digest) != 64 {
		return apiToken{}, fmt.Sprintf("the token “%s” is not under a SHA-512 digest (128 hexadecimal digits); it was not imported", name)
	}
	t.digest = digest
	created, ok := unixTime(r.CreateTime)
	if !ok {
		return apiToken{}, fmt.Sprintf("the token “%s” has an invalid create_time; it was not imported", name)
	}
	t.created = created
	if t.expires, ok = unixTime(r.ExpiresAt); !ok {
		return apiToken{}, fmt.Sprintf("the token “%s” has an invalid expires_at; it was not imported", name)
	}
	var ips []string
	if !isNull(r.WhitelistIPs) && json.Unmarshal(r.WhitelistIPs, &ips) != nil {
		return apiToken{}, fmt.Sprintf("the token “%s” has an invalid whitelist_ips (not a list of addresses); it was not imported", name)
	}
	for _, s := range ips {
		p, ok := prefix(s)
		if !ok {
			// Dropping one entry of an allow-list would let the token be
			// used from addresses cPanel refused (all of them, for a
			// list of one): the token stays behind.
			return apiToken{}, fmt.Sprintf("the token “%s” has “%s” in its whitelist_ips, which is not an address or CIDR range; it was not imported", name, printable(s))
		}
		t.allow = append(t.allow, p)
	}
	if r.ACLs != nil {
		t.hasACLs = true
		if !isNull(r.ACLs) && json.Unmarshal(r.ACLs, &t.acls) != nil {
			return apiToken{}, fmt.Sprintf("the token “%s” has an invalid acls list; it was not imported", name)
		}
	}
	t.fullCP = truthy(r.HasFullAccess)
	if !isNull(r.Features) && json.Unmarshal(r.Features, &t.features) != nil {
		return apiToken{}, fmt.Sprintf("the token “%s” has an invalid features list; it was not imported", name)
	}
	return t, ""
}

// prefix parses an address or a CIDR range as cPanel's whitelist_ips
// holds them.
func prefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// unixTime reads a time in seconds since the epoch, given as a number or a
// string of digits; null, absent, "" and 0 are the zero time.
func unixTime(raw json.RawMessage) (time.Time, bool) {
	if isNull(raw) {
		return time.Time{}, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, false
		}
		if s = strings.TrimSpace(s); s == "" {
			return time.Time{}, true
		}
		n = json.Number(s)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > 253402300799 {
		return time.Time{}, false
	}
	if f == 0 {
		return time.Time{}, true
	}
	return time.Unix(int64(f), 0), true
}

// truthy is Perl's truth of a JSON value: not null, false, 0, "" or "0".
func truthy(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "false", "0", `""`, `"0"`:
		return false
	}
	return true
}

// jsonLine is the line of a JSON syntax error (0 when unknown).
func jsonLine(data []byte, err error) int {
	var se *json.SyntaxError
	if e, ok := err.(*json.SyntaxError); ok {
		se = e
	}
	if se == nil || se.Offset <= 0 || se.Offset > int64(len(data)) {
		return 0
	}
	return bytes.Count(data[:se.Offset], []byte("\n")) + 1
}

// parseDBMap reads /var/cpanel/databases/USER.json, cPanel's map of an
// account's databases: the names of its MySQL and PostgreSQL databases
// ({"MYSQL": {"dbs": {NAME: …}}, "PGSQL": {"dbs": {…}}}), sorted.
func parseDBMap(data []byte) ([]string, []lineProblem) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, []lineProblem{{jsonLine(data, err), "not cPanel's JSON map of databases"}}
	}
	var out []string
	for _, engine := range []string{"MYSQL", "PGSQL"} {
		var e struct {
			DBs map[string]json.RawMessage `json:"dbs"`
		}
		if raw, ok := m[engine]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, []lineProblem{{0, "its " + engine + " member is not cPanel's map of databases"}}
			}
		}
		for db := range e.DBs {
			if !slices.Contains(out, db) {
				out = append(out, db)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// printable returns s for a message: at most 100 bytes, control
// characters and invalid UTF-8 escaped.
func printable(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if q == s {
		return s
	}
	return q
}
