package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/uapid/uapid/internal/store"
)

// The limits of an account or a package are columns of the same names in
// directory_accounts and directory_packages; a limit is stored as its
// number, -1 for "unlimited".
const limitCols = `quota, bwlimit, max_ftp, max_sql, max_pop, max_lists, max_sub, max_park, max_addon,
	max_passenger_apps, max_emailacct_quota, max_email_per_hour, max_defer_fail_percent, max_team_users,
	cgi, has_shell, dedicated_ip, digest_auth, feature_list, theme`

// limitCount is the number of columns in limitCols.
const limitCount = 20

// limitSet is "col = ?, …" for every column of limitCols.
var limitSet = func() string {
	cols := strings.Split(limitCols, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c) + " = ?"
	}
	return strings.Join(cols, ", ")
}()

// dbLimit scans and stores one store.Limit.
type dbLimit struct{ l *store.Limit }

func (d dbLimit) Scan(src any) error {
	var n int64
	switch v := src.(type) {
	case int64:
		n = v
	case int32:
		n = int64(v)
	default:
		return fmt.Errorf("a limit column holds %T", src)
	}
	if n < 0 {
		*d.l = store.Unlimited
	} else {
		*d.l = store.LimitOf(n)
	}
	return nil
}

func limitValue(l store.Limit) driver.Value {
	if !l.Limited {
		return int64(-1)
	}
	return l.N
}

// limitDest are the scan destinations of limitCols.
func limitDest(l *store.Limits) []any {
	return []any{dbLimit{&l.Quota}, dbLimit{&l.BWLimit}, dbLimit{&l.MaxFTP}, dbLimit{&l.MaxSQL},
		dbLimit{&l.MaxPOP}, dbLimit{&l.MaxLists}, dbLimit{&l.MaxSub}, dbLimit{&l.MaxPark}, dbLimit{&l.MaxAddon},
		dbLimit{&l.MaxPassengerApps}, dbLimit{&l.MaxEmailAcctQuota}, dbLimit{&l.MaxEmailPerHour},
		dbLimit{&l.MaxDeferFailPercent}, dbLimit{&l.MaxTeamUsers},
		&l.CGI, &l.HasShell, &l.DedicatedIP, &l.DigestAuth, &l.FeatureList, &l.Theme}
}

// limitArgs are the values of limitCols.
func limitArgs(l store.Limits) []any {
	return []any{limitValue(l.Quota), limitValue(l.BWLimit), limitValue(l.MaxFTP), limitValue(l.MaxSQL),
		limitValue(l.MaxPOP), limitValue(l.MaxLists), limitValue(l.MaxSub), limitValue(l.MaxPark), limitValue(l.MaxAddon),
		limitValue(l.MaxPassengerApps), limitValue(l.MaxEmailAcctQuota), limitValue(l.MaxEmailPerHour),
		limitValue(l.MaxDeferFailPercent), limitValue(l.MaxTeamUsers),
		l.CGI, l.HasShell, l.DedicatedIP, l.DigestAuth, l.FeatureList, l.Theme}
}

// placeholders returns n "?" separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// joinACLs and splitACLs store a list of ACL names as one column (names
// never hold a comma).
func joinACLs(acls []string) string { return strings.Join(acls, ",") }

func splitACLs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
