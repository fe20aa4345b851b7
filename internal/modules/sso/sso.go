// Package sso is WHM API 1's create_user_session (SPEC §7): root, or the
// reseller owning an account, makes a one-time login URL for that account's
// cPanel, its Webmail (or a mailbox's), or a reseller's WHM.
package sso

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// Deps are what create_user_session needs.
type Deps struct {
	Dir      store.Directory
	Sessions *session.Manager
	// Hostname returns the default host of session URLs (--hostname).
	Hostname func() string
	// Port returns the port to announce for a service's URLs.
	Port func(service string) int
}

// Register adds create_user_session to reg.
func Register(reg *whmapi.Registry, d *Deps) {
	reg.Register("create_user_session", d.createUserSession)
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// target is who a session is for.
type target struct {
	user    string // lower-case account user, "root" or mailbox address
	account string // account the session belongs to
}

func (d *Deps) createUserSession(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	userArg, _ := args.Get("user")
	svc, _ := args.Get("service")
	if userArg == "" {
		return whmapi.Fail("The “user” parameter is required."), nil
	}
	if svc == "" {
		return whmapi.Fail("The “service” parameter is required."), nil
	}
	if svc != uapi.ServiceCPanel && svc != uapi.ServiceWebmail && svc != uapi.ServiceWHM {
		return whmapi.Fail("The “service” parameter is invalid. The only supported services for this API call are “cpaneld”, “webmaild”, and “whostmgrd”."), nil
	}
	locale, hasLocale := args.Get("locale")
	if len(locale) > 16 {
		return whmapi.Fail("The “locale” parameter must not be longer than 16 characters."), nil
	}
	preferred, _ := args.Get("preferred_domain")
	if preferred != "" && (len(preferred) > 253 || !hostnameRE.MatchString(preferred)) {
		return whmapi.Fail(fmt.Sprintf("The “preferred_domain” parameter “%s” is not a valid domain name.", preferred)), nil
	}
	notExist := whmapi.Fail(fmt.Sprintf("You cannot create a session for the user “%s” because they do not exist.", userArg))
	name := strings.ToLower(userArg)

	var tg target
	var acct store.Account
	switch {
	case name == store.RootUser:
		if svc != uapi.ServiceWHM {
			return notExist, nil
		}
		tg = target{user: name, account: name}
	case strings.Contains(name, "@"):
		if svc != uapi.ServiceWebmail {
			return notExist, nil
		}
		m, err := d.Dir.GetMailbox(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return notExist, nil
		}
		if err != nil {
			return whmapi.Envelope{}, err
		}
		if acct, err = d.Dir.GetAccount(ctx, m.Account); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notExist, nil
			}
			return whmapi.Envelope{}, err
		}
		tg = target{user: m.Address, account: m.Account}
	default:
		var err error
		acct, err = d.Dir.GetAccount(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return notExist, nil
		}
		if err != nil {
			return whmapi.Envelope{}, err
		}
		tg = target{user: acct.User, account: acct.User}
	}
	if tg.account != store.RootUser && acct.Suspended {
		return whmapi.Fail(fmt.Sprintf("You cannot create a session for the user “%s” because they are currently suspended.", userArg)), nil
	}
	if !permitted(c, tg, acct) {
		return whmapi.Fail(fmt.Sprintf("You do not have permission to create sessions for the user “%s”.", userArg)), nil
	}
	if svc == uapi.ServiceWHM && tg.account != store.RootUser && !acct.Reseller {
		return whmapi.Fail(fmt.Sprintf("You cannot create a “whostmgrd” session for the user “%s” because they are not a reseller.", userArg)), nil
	}
	if !hasLocale || locale == "" {
		locale = acct.Locale
	}
	rec, secret, err := d.Sessions.Create(ctx, session.NewSession{
		User:    tg.user,
		Account: tg.account,
		Service: svc,
		Tag:     session.TagUserSession,
		Creator: c.User,
		Method:  "create_user_session",
		Locale:  locale,
	})
	if err != nil {
		return whmapi.Envelope{}, err
	}
	host := d.Hostname()
	if preferred != "" {
		host = strings.ToLower(preferred)
	}
	data := map[string]any{
		"cp_security_token": rec.Token,
		"expires":           rec.ExpiresAt.Unix(),
		"service":           svc,
		"session":           secret,
		"url":               "https://" + net.JoinHostPort(host, strconv.Itoa(d.Port(svc))) + rec.Token + "/login/?session=" + url.QueryEscape(secret),
	}
	if app, _ := args.Get("app"); app != "" {
		if page, ok := AppPage(svc, app); ok {
			data["url"] = data["url"].(string) + "&goto_uri=" + url.QueryEscape(page)
		}
	}
	if hasLocale && args.Has("locale") {
		if l, _ := args.Get("locale"); l != "" {
			data["locale"] = l
		}
	}
	env := whmapi.OK(data)
	env.Metadata.Reason = "Created session"
	return env, nil
}

// permitted: root may create any session; a reseller the sessions of the
// accounts it owns (and its own, and their mailboxes').
func permitted(c uapi.Caller, tg target, acct store.Account) bool {
	if c.User == store.RootUser {
		return true
	}
	if tg.account == store.RootUser {
		return false
	}
	return acct.User == c.User || acct.Owner == c.User
}

// appPages map the application names of create_user_session's "app" (as
// cPanel's application list names them, compared without regard to case)
// to their page below /cpsess…/ in the Jupiter theme. An unknown name
// opens the home page.
var appPages = map[string]map[string]string{
	uapi.ServiceCPanel: {
		"home":                 "/frontend/jupiter/index.html",
		"email_accounts":       "/frontend/jupiter/email_accounts/index.html",
		"email_forwarders":     "/frontend/jupiter/mail/fwds.html",
		"email_autoresponders": "/frontend/jupiter/mail/autores.html",
		"filemanager_home":     "/frontend/jupiter/filemanager/index.html",
		"file_manager":         "/frontend/jupiter/filemanager/index.html",
		"mysql_databases":      "/frontend/jupiter/sql/index.html",
		"database_phpmyadmin":  "/3rdparty/phpMyAdmin/index.php",
		"phpmyadmin":           "/3rdparty/phpMyAdmin/index.php",
		"domains":              "/frontend/jupiter/domains/index.html",
		"backup":               "/frontend/jupiter/backup/index.html",
		"backups":              "/frontend/jupiter/backup/index.html",
		"cron_jobs":            "/frontend/jupiter/cron/index.html",
		"ssl_tls":              "/frontend/jupiter/ssl/index.html",
		"zone_editor":          "/frontend/jupiter/zone_editor/index.html",
		"ftp_accounts":         "/frontend/jupiter/ftp/accounts.html",
		"change_password":      "/frontend/jupiter/passwd/index.html",
	},
}

// AppPage returns the page of application app for service, if uapid
// knows it.
func AppPage(service, app string) (string, bool) {
	p, ok := appPages[service][strings.ToLower(app)]
	return p, ok
}
