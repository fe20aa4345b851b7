package cpanelimport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uapid/uapid/internal/importer"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
)

// Options change what Read brings over.
type Options struct {
	// Limits bound what is read into memory (zero: DefaultLimits).
	Limits Limits
	// AllowRestrictedTokens imports the API tokens that cPanel limited to
	// some ACLs (WHM) or features (cPanel) too. uapid's tokens always
	// have all of their owner's rights, so such a token would gain
	// rights: without this option it is reported and left behind.
	AllowRestrictedTokens bool
}

// Read reads one source: the root of a cPanel server's file system (or a
// copy of its relevant parts), a pkgacct archive (cpmove-USER.tar.gz,
// backup-…_USER.tar.gz, USER.tar.gz; gzip-compressed or plain tar), or
// such an archive unpacked into a directory. It returns the accounts with
// their mailboxes and tokens, root's API tokens, and every problem met,
// each with its file and line. It writes nothing anywhere.
func Read(src string, opt Options) importer.Batch {
	if opt.Limits == (Limits{}) {
		opt.Limits = DefaultLimits
	}
	r := &reader{opt: opt, src: importer.Where{Path: src}}
	fi, err := os.Stat(src)
	if err != nil {
		r.fileProblem("", 0, "cannot be read: "+reason(err))
		return r.batch
	}
	if fi.IsDir() {
		d, err := openDir(src, opt.Limits.MaxFileSize)
		if err != nil {
			r.fileProblem("", 0, "cannot be read: "+reason(err))
			return r.batch
		}
		defer d.Close()
		r.fs = d
		switch {
		case r.isDir("var/cpanel/users"):
			r.readTree()
		case r.isDir("cp"):
			r.readCpmove()
		default:
			r.fileProblem("", 0, "is neither the root of a cPanel server (it has no var/cpanel/users) nor an unpacked pkgacct archive (it has no cp/)")
		}
		return r.batch
	}
	if !fi.Mode().IsRegular() {
		r.fileProblem("", 0, "is neither a directory nor a regular file")
		return r.batch
	}
	f, err := os.Open(src)
	if err != nil {
		r.fileProblem("", 0, "cannot be read: "+reason(err))
		return r.batch
	}
	defer f.Close()
	a, err := readArchive(f, opt.Limits)
	if err != nil {
		r.fileProblem("", 0, err.Error())
		return r.batch
	}
	for _, p := range a.problems {
		r.fileProblem(p.name, 0, p.reason)
	}
	r.fs, r.top = a.fs, a.top
	r.readCpmove()
	return r.batch
}

// reason is the text of a file error without the path (which the problem
// names already).
func reason(err error) string {
	err = unwrapPath(err)
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file or directory"
	}
	return err.Error()
}

// reader reads one source into a batch.
type reader struct {
	opt   Options
	src   importer.Where
	fs    fs.FS
	top   string // an archive's top directory
	batch importer.Batch
}

// name is file as the source shows it (an archive's top directory
// included).
func (r *reader) name(file string) string {
	if r.top == "" || file == "" {
		return file
	}
	return r.top + "/" + file
}

func (r *reader) where(file string, line int) importer.Where {
	return r.src.At(r.name(file), line)
}

func (r *reader) problem(k importer.Kind, item, file string, line int, reason string) {
	r.batch.Problems = append(r.batch.Problems, importer.Problem{Kind: k, Item: item, Where: r.where(file, line), Reason: reason})
}

func (r *reader) warn(k importer.Kind, item, file string, line int, reason string) {
	r.batch.Problems = append(r.batch.Problems, importer.Problem{Kind: k, Item: item, Where: r.where(file, line), Reason: reason, Warning: true})
}

// fileProblem is a problem with a file (or, file "", the source) as a
// whole.
func (r *reader) fileProblem(file string, line int, reason string) {
	w := r.src
	if file != "" {
		w = r.src.At(file, line)
	}
	r.batch.Problems = append(r.batch.Problems, importer.Problem{Kind: importer.KindFile, Where: w, Reason: reason})
}

func (r *reader) isDir(name string) bool {
	fi, err := fs.Stat(r.fs, name)
	return err == nil && fi.IsDir()
}

// read returns the contents of file; ok is false when it is absent
// (silently) or cannot be read (reported).
func (r *reader) read(file string) (data []byte, ok bool) {
	b, err := fs.ReadFile(r.fs, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		r.fileProblem(r.name(file), 0, "cannot be read: "+reason(err)+"; it was left out")
		return nil, false
	}
	return b, true
}

// exists reports whether file is there (readable or not).
func (r *reader) exists(file string) bool {
	_, err := fs.Stat(r.fs, file)
	return !errors.Is(err, fs.ErrNotExist)
}

// readDir lists dir; absent is empty, unreadable is reported.
func (r *reader) readDir(dir string) []fs.DirEntry {
	es, err := fs.ReadDir(r.fs, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.fileProblem(r.name(dir), 0, "cannot be read: "+reason(err)+"; it was left out")
		return nil
	}
	return es
}

// acctInput is where the files of one account are in a source.
type acctInput struct {
	user   string
	cpuser string // the account file
	hash   string
	hashAt importer.Where
	// owner is the owner from /etc/trueuserowners ("": none), used when
	// the account file names none.
	owner     string
	reseller  bool
	acls      []string // the reseller's ACLs
	userdata  string   // userdata/main
	suspended string   // the suspension reason file
	lock      string   // the root lock file
	cpTokens  string
	whmTokens string
	dbs       []string
	dbsFile   string
	homeEtc   string // the directory of DOMAIN/{passwd,shadow,quota}
}

// ---- a server's file system ----

// readTree reads the accounts of a cPanel server's root directory.
func (r *reader) readTree() {
	var users []string
	for _, e := range r.readDir("var/cpanel/users") {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
		case !e.Type().IsRegular():
			r.warn(importer.KindFile, "", "var/cpanel/users/"+name, 0, "is not a regular file; it was skipped")
		case !store.ValidUser(name):
			r.warn(importer.KindFile, "", "var/cpanel/users/"+name, 0, "is not named as a cPanel account; it was skipped")
		default:
			users = append(users, name)
		}
	}

	hashes := map[string]shadowEntry{}
	shadowFound := false
	if data, ok := r.read("etc/shadow"); ok {
		shadowFound = true
		entries, probs := parseShadow(data)
		for _, p := range probs {
			r.fileProblem(r.name("etc/shadow"), p.line, p.reason)
		}
		for _, e := range entries {
			hashes[e.name] = e
		}
	} else if len(users) > 0 {
		r.warn(importer.KindFile, "", "etc/shadow", 0, "is missing: the accounts come without passwords")
	}
	owners := map[string]string{}
	if data, ok := r.read("etc/trueuserowners"); ok {
		pairs, probs := parsePairs(data)
		for _, p := range probs {
			r.fileProblem(r.name("etc/trueuserowners"), p.line, p.reason)
		}
		for _, p := range pairs {
			owners[p.key] = strings.ToLower(p.value)
		}
	}
	resellers := r.resellers("var/cpanel/resellers")
	homes := r.homes()

	for _, u := range users {
		home := homes[u]
		if home == "" {
			home = "home/" + u
		}
		in := acctInput{
			user: u, cpuser: "var/cpanel/users/" + u, owner: owners[u],
			userdata:  "var/cpanel/userdata/" + u + "/main",
			suspended: "var/cpanel/suspended/" + u, lock: "var/cpanel/suspended/" + u + ".lock",
			cpTokens:  "var/cpanel/authn/api_tokens_v2/cpanel/" + u + ".json",
			whmTokens: "var/cpanel/authn/api_tokens_v2/whostmgr/" + u + ".json",
			homeEtc:   home + "/etc",
			hashAt:    r.where("etc/shadow", 0),
		}
		if e, ok := hashes[u]; ok {
			in.hash, in.hashAt = e.hash, r.where("etc/shadow", e.line)
		} else if shadowFound {
			r.warn(importer.KindAccount, u, "etc/shadow", 0, "has no entry for the account: it comes without a password")
		}
		in.acls, in.reseller = resellers[u]
		in.dbsFile = "var/cpanel/databases/" + u + ".json"
		if data, ok := r.read(in.dbsFile); ok {
			dbs, probs := parseDBMap(data)
			for _, p := range probs {
				r.problem(importer.KindDatabase, u, in.dbsFile, p.line, p.reason+"; the account comes without its databases")
			}
			in.dbs = dbs
		}
		r.account(in)
	}

	// Root's WHM tokens, and token files of users that are not accounts.
	const tokenDir = "var/cpanel/authn/api_tokens_v2/"
	if data, ok := r.read(tokenDir + "whostmgr/root.json"); ok {
		r.batch.RootTokens = r.whmTokens(store.RootUser, tokenDir+"whostmgr/root.json", data, nil, nil)
	}
	for _, svc := range []string{"cpanel", "whostmgr"} {
		for _, e := range r.readDir(tokenDir + svc) {
			u, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || slices.Contains(users, u) || (svc == "whostmgr" && u == store.RootUser) {
				continue
			}
			r.warn(importer.KindToken, "", tokenDir+svc+"/"+e.Name(), 0, "holds the tokens of “"+printable(u)+"”, which has no account here; they were not imported")
		}
	}
}

// resellers reads a resellers file (reseller:acl,acl,…): the resellers
// with their ACLs.
func (r *reader) resellers(file string) map[string][]string {
	out := map[string][]string{}
	data, ok := r.read(file)
	if !ok {
		return out
	}
	pairs, probs := parsePairs(data)
	for _, p := range probs {
		r.fileProblem(r.name(file), p.line, p.reason)
	}
	for _, p := range pairs {
		var acls []string
		for _, a := range strings.Split(p.value, ",") {
			if a = strings.TrimSpace(a); a != "" {
				acls = append(acls, a)
			}
		}
		out[strings.ToLower(p.key)] = acls
	}
	return out
}

// homes reads the home directories of /etc/passwd, relative to the root
// (an account without one has home/USER).
func (r *reader) homes() map[string]string {
	out := map[string]string{}
	data, ok := r.read("etc/passwd")
	if !ok {
		return out
	}
	for _, f := range parseColons(data, true) {
		if len(f.fields) < 7 {
			r.fileProblem(r.name("etc/passwd"), f.line, "the line is not “name:x:uid:gid:gecos:home:shell”")
			continue
		}
		home := f.fields[5]
		if !strings.HasPrefix(home, "/") {
			continue
		}
		if rel := strings.TrimPrefix(path.Clean(home), "/"); rel != "" && fs.ValidPath(rel) {
			out[f.fields[0]] = rel
		}
	}
	return out
}

// ---- a pkgacct archive ----

// readCpmove reads the one account of a pkgacct archive (in memory or
// unpacked).
func (r *reader) readCpmove() {
	var users []string
	for _, e := range r.readDir("cp") {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			users = append(users, e.Name())
		}
	}
	switch {
	case len(users) == 0:
		r.fileProblem(r.name("cp"), 0, "holds no account file: nothing to import")
		return
	case len(users) > 1:
		r.fileProblem(r.name("cp"), 0, "holds several account files; a pkgacct archive holds one account: nothing was imported")
		return
	}
	u := users[0]
	if !store.ValidUser(u) {
		r.problem(importer.KindAccount, printable(u), "cp/"+u, 0, "is not a valid cPanel account name; nothing was imported")
		return
	}
	in := acctInput{
		user: u, cpuser: "cp/" + u, userdata: "userdata/main",
		suspended: "suspended/" + u, lock: "suspended/" + u + ".lock",
		cpTokens: "api_tokens/cpanel", whmTokens: "api_tokens/whostmgr",
		homeEtc: "homedir/etc", hashAt: r.where("shadow", 0),
	}
	if data, ok := r.read("shadow"); ok {
		first, _, _ := strings.Cut(string(data), "\n")
		in.hash, in.hashAt = strings.TrimSpace(first), r.where("shadow", 1)
	} else {
		r.warn(importer.KindAccount, u, "shadow", 0, "is missing: the account comes without a password")
	}
	in.acls, in.reseller = r.resellers("resellerconfig/resellers")[u]
	for _, e := range r.readDir("mysql") {
		if db, ok := strings.CutSuffix(e.Name(), ".create"); ok && e.Type().IsRegular() {
			in.dbs = append(in.dbs, db)
		}
	}
	in.dbsFile = "mysql"
	r.account(in)
}

// ---- one account ----

// account builds the account of in with its mailboxes and tokens.
func (r *reader) account(in acctInput) {
	u := in.user
	data, ok := r.read(in.cpuser)
	if !ok {
		return
	}
	kv, probs := parseCPUser(data)
	for _, p := range probs {
		r.problem(importer.KindAccount, u, in.cpuser, p.line, p.reason)
	}
	if v := strings.ToLower(kv["USER"]); v != "" && v != u {
		r.problem(importer.KindAccount, u, in.cpuser, 0, "its USER is “"+printable(v)+"”, not the account the file is named after; it was not imported")
		return
	}
	a := store.Account{User: u, Reseller: in.reseller, Plan: kv["PLAN"]}
	if in.reseller {
		// The privileges of the resellers file; "all" is cPanel's every
		// privilege. An unknown name would stop the account: it is left
		// out and reported.
		for _, acl := range in.acls {
			if store.ValidACLName(acl) {
				a.ACLs = append(a.ACLs, acl)
			} else {
				r.problem(importer.KindAccount, u, "var/cpanel/resellers", 0, "the privilege “"+printable(acl)+"” is not an ACL name; the reseller comes without it")
			}
		}
	}
	if v := strings.TrimSpace(kv["MAXPOP"]); v != "" && !strings.EqualFold(v, "unlimited") {
		// The mailbox limit is the one limit uapid enforces.
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			a.Limits.MaxPOP = store.LimitOf(n)
		} else {
			r.problem(importer.KindAccount, u, in.cpuser, 0, "its MAXPOP “"+printable(v)+"” is not a number; the account comes without a mailbox limit")
		}
	}
	a.Owner = strings.ToLower(kv["OWNER"])
	if a.Owner == "" {
		a.Owner = in.owner
	}
	if a.Owner == "" {
		a.Owner = store.RootUser
	}
	if c := kv["CONTACTEMAIL"]; c != "" {
		if store.ValidContactEmail(c) {
			a.ContactEmail = c
		} else {
			r.problem(importer.KindAccount, u, in.cpuser, 0, "its CONTACTEMAIL “"+printable(c)+"” is not a valid address; the account comes without it")
		}
	}
	a.Locale = strings.ToLower(kv["LOCALE"])
	if a.Locale != "" && !store.ValidLocale(a.Locale) {
		r.problem(importer.KindAccount, u, in.cpuser, 0, "its LOCALE “"+printable(a.Locale)+"” is not a locale name; the account comes with “en”")
		a.Locale = ""
	}
	if t, ok := epoch(kv["STARTDATE"]); ok {
		a.CreatedAt = t
	}

	// Domains: DNS (main) and DNS1…n from the account file, and the
	// main, addon, parked and sub domains of userdata/main.
	main := strings.ToLower(kv["DNS"])
	var ud userdataMain
	if data, ok := r.read(in.userdata); ok {
		var probs []lineProblem
		ud, probs = parseUserdataMain(data)
		for _, p := range probs {
			r.problem(importer.KindAccount, u, in.userdata, p.line, p.reason+"; only the domains of the account file came over")
		}
	}
	if udMain := strings.ToLower(ud.MainDomain); main == "" {
		main = udMain
	} else if udMain != "" && udMain != main {
		r.warn(importer.KindAccount, u, in.userdata, 0, "names “"+printable(udMain)+"” as the main domain, the account file “"+printable(main)+"”; the account file's is used")
	}
	if main == "" {
		r.problem(importer.KindAccount, u, in.cpuser, 0, "names no main domain (DNS=); the account was not imported")
		return
	}
	if !store.ValidDomain(main) {
		r.problem(importer.KindAccount, u, in.cpuser, 0, "its main domain “"+printable(main)+"” is not a valid domain name; the account was not imported")
		return
	}
	for _, d := range append(append([]string{main}, numbered(kv, "DNS")...), ud.domains()...) {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "" || slices.Contains(a.Domains, d):
		case !store.ValidDomain(d):
			r.problem(importer.KindDomain, printable(d), in.cpuser, 0, "is not a valid domain name; it was not imported")
		default:
			a.Domains = append(a.Domains, d)
		}
	}

	// Suspension: SUSPENDED=1, or the reason file, or the root lock.
	reasonData, hasReason := r.read(in.suspended)
	lockData, locked := r.read(in.lock)
	if kv["SUSPENDED"] == "1" || hasReason || locked {
		a.Suspended = true
		a.SuspendReason = note(reasonData)
		if a.SuspendReason == "" {
			a.SuspendReason = note(lockData)
		}
		a.SuspendLocked = locked
		if t, ok := epoch(kv["SUSPENDTIME"]); ok {
			a.SuspendedAt = t
		}
	}

	// The password: a suspended account's hash carries the "!!" cPanel
	// put in front of it; without it, unsuspending restores the login.
	hash := in.hash
	if a.Suspended {
		hash = strings.TrimPrefix(hash, "!!")
	}
	switch {
	case !store.ValidPasswordHash(hash):
		r.batch.Problems = append(r.batch.Problems, importer.Problem{Kind: importer.KindAccount, Item: u, Where: in.hashAt,
			Reason: "the password hash is not a valid crypt string; the account comes without a password"})
		hash = ""
	case hash != "" && passwd.Scheme(hash) == "":
		r.batch.Problems = append(r.batch.Problems, importer.Problem{Kind: importer.KindAccount, Item: u, Where: in.hashAt, Warning: true,
			Reason: "the password hash is in a format uapid does not verify (for example DES crypt): the password will not log in until it is set again"})
	}
	a.PasswordHash = hash

	for _, db := range in.dbs {
		if store.ValidDatabaseName(u, db) {
			a.Databases = append(a.Databases, db)
		} else {
			r.problem(importer.KindDatabase, printable(db), in.dbsFile, 0, "is not a database name uapid keeps for “"+u+"” (lower-case letters, digits and “_”, starting with “"+u+"_”); it was not imported")
		}
	}

	acct := importer.Account{Account: a, Source: r.where(in.cpuser, 0)}
	acct.Mailboxes = r.mailboxes(u, in.homeEtc)
	acct.Tokens = r.tokens(in)
	r.batch.Accounts = append(r.batch.Accounts, acct)
}

// numbered returns the values of KEY1, KEY2, … in order of their number.
func numbered(kv map[string]string, key string) []string {
	var ns []int
	for k := range kv {
		if rest, ok := strings.CutPrefix(k, key); ok {
			if n, err := strconv.Atoi(rest); err == nil && n > 0 {
				ns = append(ns, n)
			}
		}
	}
	slices.Sort(ns)
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, kv[key+strconv.Itoa(n)])
	}
	return out
}

// epoch reads a time in seconds since the epoch; 0 (cPanel's
// "0000000000", unknown) and anything else than digits are not a time.
func epoch(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// note makes a one-line note (a suspension reason) of a file's text:
// lines joined with spaces, control characters dropped, at most
// store.MaxNoteLen bytes.
func note(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
	for len(s) > store.MaxNoteLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// ---- mailboxes ----

// mailboxes reads the mailboxes of account u from its home's etc
// directory: one directory per domain with shadow (login:hash:…),
// passwd (login:…) and quota (login:bytes).
func (r *reader) mailboxes(u, etc string) []importer.Mailbox {
	var out []importer.Mailbox
	for _, e := range r.readDir(etc) {
		if !e.IsDir() {
			continue
		}
		domain := strings.ToLower(e.Name())
		if !store.ValidDomain(domain) {
			continue // not a mail domain's directory
		}
		dir := etc + "/" + e.Name()
		quotas := map[string]int64{}
		var badQuota map[string]int
		if data, ok := r.read(dir + "/quota"); ok {
			pairs, probs := parsePairs(data)
			for _, p := range probs {
				r.problem(importer.KindMailbox, "", dir+"/quota", p.line, p.reason)
			}
			for _, p := range pairs {
				q, err := strconv.ParseInt(p.value, 10, 64)
				switch {
				case p.value == "" || strings.EqualFold(p.value, "unlimited"):
					quotas[strings.ToLower(p.key)] = 0
				case err != nil || q < 0:
					if badQuota == nil {
						badQuota = map[string]int{}
					}
					badQuota[strings.ToLower(p.key)] = p.line
				default:
					quotas[strings.ToLower(p.key)] = q
				}
			}
		}
		data, ok := r.read(dir + "/shadow")
		if !ok {
			if !r.exists(dir+"/shadow") && r.exists(dir+"/passwd") {
				r.problem(importer.KindMailbox, "", dir+"/shadow", 0, "is missing: the mailboxes of “"+domain+"” were not imported")
			}
			continue
		}
		entries, probs := parseShadow(data)
		for _, p := range probs {
			r.problem(importer.KindMailbox, "", dir+"/shadow", p.line, p.reason)
		}
		seen := map[string]bool{}
		for _, en := range entries {
			login := strings.ToLower(en.name)
			if !store.ValidLocalPart(login) {
				r.problem(importer.KindMailbox, "", dir+"/shadow", en.line, "the login is not a valid mailbox name; it was not imported")
				continue
			}
			addr := login + "@" + domain
			if seen[login] {
				r.problem(importer.KindMailbox, addr, dir+"/shadow", en.line, "is listed twice; the second was not imported")
				continue
			}
			seen[login] = true
			hash, suspended := mailboxHash(en.hash)
			if !store.ValidPasswordHash(hash) {
				r.problem(importer.KindMailbox, addr, dir+"/shadow", en.line, "its password hash is not a valid crypt string; it was not imported")
				continue
			}
			if line, bad := badQuota[login]; bad {
				r.problem(importer.KindMailbox, addr, dir+"/quota", line, "its quota is not a number of bytes; it comes without a quota")
			}
			out = append(out, importer.Mailbox{
				Mailbox: store.Mailbox{Address: addr, PasswordHash: hash, SuspendedLogin: suspended, Quota: quotas[login]},
				Source:  r.where(dir+"/shadow", en.line),
			})
		}
		if data, ok := r.read(dir + "/passwd"); ok {
			for _, f := range parseColons(data, true) {
				login := strings.ToLower(strings.TrimSpace(f.fields[0]))
				if store.ValidLocalPart(login) && !seen[login] {
					r.problem(importer.KindMailbox, login+"@"+domain, dir+"/passwd", f.line, "has no password hash in shadow; it was not imported")
				}
			}
		}
	}
	return out
}

// lockedPrefix is what cPanel puts in front of the mailbox hashes of a
// suspended account.
const lockedPrefix = "*LOCKED*"

// mailboxHash undoes cPanel's markers on a mailbox hash: "*LOCKED*" (the
// account is suspended; the account's suspension covers that, so the
// mailbox logs in again once the account is unsuspended) and "!" or "!!"
// (the mailbox's own login suspension, which becomes SuspendedLogin).
func mailboxHash(h string) (hash string, suspended bool) {
	for {
		switch {
		case strings.HasPrefix(h, lockedPrefix):
			h = h[len(lockedPrefix):]
		case strings.HasPrefix(h, "!"):
			h, suspended = h[1:], true
		default:
			return h, suspended
		}
	}
}

// ---- API tokens ----

// tokens reads the cPanel and WHM tokens of the account of in.
func (r *reader) tokens(in acctInput) []importer.Token {
	u := in.user
	var out []importer.Token
	if data, ok := r.read(in.cpTokens); ok {
		ts, probs := parseTokens(data)
		for _, p := range probs {
			r.problem(importer.KindToken, u, in.cpTokens, p.line, p.reason)
		}
		for _, t := range ts {
			if !t.fullCP && !r.opt.AllowRestrictedTokens {
				r.problem(importer.KindToken, u+"/"+t.name, in.cpTokens, 0, restricted("cPanel token", "features", t.features))
				continue
			}
			out = append(out, r.token(t, in.cpTokens))
		}
	}
	if data, ok := r.read(in.whmTokens); ok {
		if !in.reseller {
			if ts, _ := parseTokens(data); len(ts) > 0 {
				r.problem(importer.KindToken, u, in.whmTokens, 0, "holds WHM tokens of “"+u+"”, which is not a reseller; they were not imported")
			}
			return out
		}
		out = append(out, r.whmTokens(u, in.whmTokens, data, in.acls, out)...)
	}
	return out
}

// whmTokens reads the WHM tokens of user (root or a reseller with the
// given ACLs); have are the user's cPanel tokens, whose names WHM tokens
// cannot take too (uapid keeps one set of tokens per user).
func (r *reader) whmTokens(user, file string, data []byte, acls []string, have []importer.Token) []importer.Token {
	ts, probs := parseTokens(data)
	for _, p := range probs {
		r.problem(importer.KindToken, user, file, p.line, p.reason)
	}
	var out []importer.Token
	for _, t := range ts {
		item := user + "/" + t.name
		if slices.ContainsFunc(have, func(c importer.Token) bool { return c.Name == t.name }) {
			r.problem(importer.KindToken, item, file, 0, "is the name of a cPanel token of “"+user+"” too, and uapid keeps one set of tokens per user: the WHM token was not imported")
			continue
		}
		if !fullWHM(t, user, acls) && !r.opt.AllowRestrictedTokens {
			r.problem(importer.KindToken, item, file, 0, restricted("WHM token", "ACLs", t.acls))
			continue
		}
		out = append(out, r.token(t, file))
	}
	return out
}

// fullWHM reports whether a WHM token has all of its owner's rights: it
// has no ACL list, or "all" in it, or (a reseller's) every ACL its
// reseller has.
func fullWHM(t apiToken, user string, acls []string) bool {
	if !t.hasACLs || slices.Contains(t.acls, "all") {
		return true
	}
	if user == store.RootUser || len(acls) == 0 || slices.Contains(acls, "all") {
		return false
	}
	for _, a := range acls {
		if !slices.Contains(t.acls, a) {
			return false
		}
	}
	return true
}

// restricted is the problem text of a token cPanel limited.
func restricted(what, limits string, list []string) string {
	shown := make([]string, 0, len(list))
	for _, s := range list {
		shown = append(shown, printable(s))
	}
	l := strings.Join(shown, ", ")
	if l == "" {
		l = "none"
	}
	return fmt.Sprintf("is a %s that cPanel limited (%s: %s); uapid's tokens have all of their owner's rights, so it was not imported (--allow-restricted-tokens imports it with full rights)", what, limits, l)
}

func (r *reader) token(t apiToken, file string) importer.Token {
	return importer.Token{
		Token:  store.Token{Name: t.name, Hash: t.digest, CreatedAt: t.created, ExpiresAt: t.expires, AllowIPs: t.allow},
		Source: r.where(file, 0),
	}
}
