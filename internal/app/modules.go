package app

import (
	"github.com/uapid/uapid/internal/modules/sessionmod"
	"github.com/uapid/uapid/internal/modules/sso"
)

// registerModules adds every UAPI module and WHM API 1 function uapid serves.
func registerModules(a *App) {
	sessionmod.Register(a.Registry, &sessionmod.Deps{
		Dir:             a.Dir,
		Sessions:        a.Sessions,
		Locales:         a.Config.Locales,
		WebmailHostname: a.Config.WebmailHostname,
	})
	sso.Register(a.WHM, &sso.Deps{
		Dir:      a.Dir,
		Sessions: a.Sessions,
		Hostname: a.Hostname,
		Port:     a.PublicPort,
	})
}
