package whmacct

import (
	"github.com/uapid/uapid/internal/whmapi"
)

// registerAPI0 declares the functions WHM API 0 serves (the form clients
// use when they send no api.version) and the shape of their answers, as
// cPanel's API 0 gives them: listing functions answer their list at the
// top level, provisioning functions {"result":[{"status","statusmsg",…}]},
// passwd {"passwd":[…]}.
func registerAPI0(reg *whmapi.Registry) {
	data := func(env whmapi.Envelope) map[string]any {
		m, _ := env.Data.(map[string]any)
		return m
	}
	list := func(key, from string) whmapi.API0 {
		return func(env whmapi.Envelope) any {
			out := map[string]any{"status": env.Metadata.Result, "statusmsg": env.Metadata.Reason}
			if env.Metadata.Result == 1 {
				out["statusmsg"] = "Ok"
				out[key] = data(env)[from]
			}
			return out
		}
	}
	plain := func(env whmapi.Envelope) any { return whmapi.ResultList(env, nil) }

	reg.RegisterAPI0("listaccts", list("acct", "acct"))
	reg.RegisterAPI0("accountsummary", list("acct", "acct"))
	reg.RegisterAPI0("listpkgs", func(env whmapi.Envelope) any {
		if env.Metadata.Result == 0 {
			return whmapi.Refusal(env.Metadata.Reason)
		}
		return map[string]any{"package": data(env)["pkg"]}
	})
	reg.RegisterAPI0("listacls", func(env whmapi.Envelope) any {
		if env.Metadata.Result == 0 {
			return whmapi.Refusal(env.Metadata.Reason)
		}
		acls := map[string]any{}
		if l, ok := data(env)["acl"].([]map[string]any); ok {
			for _, e := range l {
				acls[e["name"].(string)] = e["acls"]
			}
		}
		return map[string]any{"acls": acls}
	})
	reg.RegisterAPI0("listresellers", func(env whmapi.Envelope) any {
		if env.Metadata.Result == 0 {
			return whmapi.Refusal(env.Metadata.Reason)
		}
		return map[string]any{"reseller": data(env)["reseller"]}
	})
	reg.RegisterAPI0("showbw", func(env whmapi.Envelope) any {
		if env.Metadata.Result == 0 {
			return whmapi.Refusal(env.Metadata.Reason)
		}
		return map[string]any{"bandwidth": []any{data(env)}}
	})
	reg.RegisterAPI0("resellerstats", func(env whmapi.Envelope) any {
		out := map[string]any{"status": env.Metadata.Result, "statusmsg": env.Metadata.Reason}
		if env.Metadata.Result == 1 {
			out["statusmsg"] = "Fetched Reseller Data"
			if r, ok := data(env)["reseller"].(map[string]any); ok {
				for k, v := range r {
					out[k] = v
				}
				out["reseller"] = r["user"]
			}
		}
		return map[string]any{"result": out}
	})
	reg.RegisterAPI0("createacct", func(env whmapi.Envelope) any {
		extra := map[string]any{}
		if env.Metadata.Result == 1 {
			extra["options"] = env.Data
			extra["rawout"] = env.Metadata.Output.Raw
			env.Metadata.Output = nil // statusmsg stays the reason
		}
		return whmapi.ResultList(env, extra)
	})
	reg.RegisterAPI0("passwd", func(env whmapi.Envelope) any {
		item := map[string]any{"status": env.Metadata.Result, "statusmsg": env.Metadata.Reason, "rawout": ""}
		if env.Metadata.Result == 1 {
			item["services"] = []any{map[string]any{"app": "system"}}
		}
		return map[string]any{"passwd": []any{item}}
	})
	reg.RegisterAPI0("modifyacct", func(env whmapi.Envelope) any {
		extra := map[string]any{}
		if m := data(env); m != nil {
			for k, v := range m {
				extra[k] = v
			}
		}
		return whmapi.ResultList(env, extra)
	})
	reg.RegisterAPI0("changepackage", func(env whmapi.Envelope) any {
		extra := map[string]any{}
		if env.Metadata.Output != nil {
			extra["rawout"] = env.Metadata.Output.Raw
			env.Metadata.Output = nil
		}
		return whmapi.ResultList(env, extra)
	})
	reg.RegisterAPI0("addpkg", func(env whmapi.Envelope) any {
		if env.Metadata.Result == 1 {
			env.Metadata.Reason = "You have successfully created the package “" + data(env)["pkg"].(string) + "”."
		}
		return whmapi.ResultList(env, map[string]any{"pkg": data(env)["pkg"]})
	})
	for _, name := range []string{"suspendacct", "unsuspendacct", "removeacct", "setupreseller", "unsetupreseller",
		"setacls", "suspendreseller", "unsuspendreseller", "terminatereseller", "editpkg", "killpkg", "saveacllist"} {
		reg.RegisterAPI0(name, plain)
	}
}
