package app

import (
	"context"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/modules/email"
	"github.com/uapid/uapid/internal/modules/sessionmod"
	"github.com/uapid/uapid/internal/modules/sso"
	"github.com/uapid/uapid/internal/modules/tokens"
	"github.com/uapid/uapid/internal/modules/whmacct"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/tempdb"
)

// registerModules adds every UAPI module and WHM API 1 function uapid serves.
func registerModules(a *App) {
	sessionmod.Register(a.Registry, &sessionmod.Deps{
		// Session functions only read the directory: their ownership
		// checks are answered from the authentication cache.
		Dir:             a.Auth.Directory(),
		Sessions:        a.Sessions,
		Locales:         a.Config.Locales,
		WebmailHostname: a.Config.WebmailHostname,
		Auth:            a.Auth,
	})
	sso.Register(a.WHM, &sso.Deps{
		Dir:      a.Dir,
		Sessions: a.Sessions,
		Hostname: a.Hostname,
		Port:     a.PublicPort,
	})
	email.Register(a.Registry, &email.Deps{Dir: a.Dir, Accounts: a.Accounts})
	tokens.Register(a.Registry, &tokens.Deps{Dir: a.Dir, Accounts: a.Accounts})
	whmacct.Register(a.WHM, &whmacct.Deps{
		Dir:         a.Dir,
		Packages:    a.Packages,
		Accounts:    a.Accounts,
		Locales:     a.Config.Locales,
		Nameservers: a.Config.Nameservers,
		SharedIP:    a.Config.SharedIP,
	})
}

// tempUsers adapts the temporary-user manager to the session manager
// (session.TempUsers), auditing each creation.
type tempUsers struct{ a *App }

func (t tempUsers) Configured() bool { return t.a.TempDB.Configured() }

func (t tempUsers) Create(ctx context.Context, r store.Session, via string) error {
	err := t.a.TempDB.Create(ctx, tempdb.User{Name: r.TempUser, Password: r.TempPass, Account: r.Account, SessionID: r.ID})
	if err == nil {
		t.a.Audit.Log(ctx, audit.Event{Event: audit.TempUserCreate, Actor: r.Account, Method: via,
			Target: r.Account, SessionID: r.ID, SecretFP: audit.Fingerprint(r.TempUser)})
	}
	return err
}
