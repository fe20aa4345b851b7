package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

const uapiUsage = `usage: uapi --user=<account> [--output=yaml|json|jsonpretty|xml] <Module> <function> [key=value ...]

Runs a UAPI function as the account, in-process against the store of
uapid serve: give the same --config FILE, --data DIR or --store URL (or
UAPID_CONFIG, UAPID_DATA, UAPID_STORE) as the server; by default
./uapid-data in the current store. Values are URI-decoded; a repeated
key is a list.
`

const whmapiUsage = `usage: whmapi1 [--output=yaml|json|jsonpretty|xml] <function> [key=value ...]

Runs a WHM API 1 function as root, in-process against the store of
uapid serve: give the same --config FILE, --data DIR or --store URL (or
UAPID_CONFIG, UAPID_DATA, UAPID_STORE) as the server; by default
./uapid-data in the current store. Values are URI-decoded; a repeated
key is a list.
`

// apiOptions are the options uapi and whmapi1 accept anywhere on the line.
type apiOptions struct {
	user   string
	output string
	help   bool
	vals   *config.Values
	words  []string // module/function and key=value arguments
}

// parseAPIArgs splits a uapi/whmapi1 command line. Options may come before
// the module name or after the arguments, as --opt=value or --opt value.
func parseAPIArgs(args []string, allowUser bool) (*apiOptions, error) {
	_, vals := config.FlagSet("", nil)
	o := &apiOptions{output: "yaml", vals: vals}
	takesValue := map[string]bool{"output": true, "config": true, "data": true, "store": true, "session-store": true}
	if allowUser {
		takesValue["user"] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			if a == "-h" {
				o.help = true
				continue
			}
			o.words = append(o.words, a)
			continue
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		if name == "help" {
			o.help = true
			continue
		}
		if !takesValue[name] {
			return nil, usageErr("unknown option --%s", name)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usageErr("option --%s needs a value", name)
			}
			value = args[i+1]
			i++
		}
		switch name {
		case "user":
			o.user = value
		case "output":
			if !slices.Contains(uapi.Formats(), value) {
				return nil, usageErr("unknown output format %q (use %s)", value, strings.Join(uapi.Formats(), ", "))
			}
			o.output = value
		default:
			vals.Set(name, value)
		}
	}
	return o, nil
}

// UAPIMain runs the uapi command and returns its exit code.
func UAPIMain(args []string, env *Env) int {
	return exitCode("uapi", uapiCmd(args, env), env)
}

func uapiCmd(args []string, env *Env) error {
	o, err := parseAPIArgs(args, true)
	if err != nil {
		return usageWith(err, uapiUsage)
	}
	if o.help {
		fmt.Fprint(env.Stdout, uapiUsage)
		return nil
	}
	if o.user == "" {
		return usageWith(usageErr("--user is required"), uapiUsage)
	}
	if len(o.words) < 2 {
		return usageWith(usageErr("a module and a function are required"), uapiUsage)
	}
	cargs, err := uapi.ParseCLI(o.words[2:])
	if err != nil {
		return usageErr("%v", err)
	}
	ctx := context.Background()
	a, closeApp, err := openExisting(ctx, o.vals, env)
	if err != nil {
		return err
	}
	defer closeApp()
	user := strings.ToLower(o.user)
	acct, err := a.Dir.GetAccount(ctx, user)
	if errors.Is(err, store.ErrNotFound) || user == store.RootUser {
		return usageErr("the user “%s” is not a cPanel account on this server", o.user)
	}
	if err != nil {
		return err
	}
	locale := acct.Locale
	if locale == "" {
		locale = "en"
	}
	caller := uapi.Caller{User: acct.User, Service: uapi.ServiceCPanel, Method: uapi.MethodCLI, Locale: locale}
	module, function := o.words[0], o.words[1]
	res := a.Registry.Dispatch(ctx, &uapi.Call{Module: module, Function: function, Args: cargs, Caller: caller})
	out, err := uapi.Encode(o.output, uapi.Wrap(module, function, res))
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(out)
	return err
}

// WHMAPIMain runs the whmapi1 command and returns its exit code.
func WHMAPIMain(args []string, env *Env) int {
	return exitCode("whmapi1", whmapiCmd(args, env), env)
}

func whmapiCmd(args []string, env *Env) error {
	o, err := parseAPIArgs(args, false)
	if err != nil {
		return usageWith(err, whmapiUsage)
	}
	if o.help {
		fmt.Fprint(env.Stdout, whmapiUsage)
		return nil
	}
	if len(o.words) < 1 {
		return usageWith(usageErr("a function is required"), whmapiUsage)
	}
	cargs, err := uapi.ParseCLI(o.words[1:])
	if err != nil {
		return usageErr("%v", err)
	}
	ctx := context.Background()
	a, closeApp, err := openExisting(ctx, o.vals, env)
	if err != nil {
		return err
	}
	defer closeApp()
	caller := uapi.Caller{User: store.RootUser, Service: uapi.ServiceWHM, Method: uapi.MethodCLI, Locale: "en"}
	envl := a.WHM.Dispatch(ctx, o.words[0], "1", caller, cargs)
	out, err := uapi.Encode(o.output, envl)
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(out)
	return err
}

// openExisting opens the store a server made, for uapi and whmapi1. It
// refuses, creating nothing, when that store is not there (storeProblem):
// the tools run functions against a server's data, and an empty store made
// on the spot would only answer that no account exists. close closes the
// App and removes what openExisting made for it.
func openExisting(ctx context.Context, vals *config.Values, env *Env) (a *app.App, closeApp func(), err error) {
	cfg, err := loadCommandConfig(vals, env)
	if err != nil {
		return nil, nil, err
	}
	if err := storeProblem(cfg); err != nil {
		return nil, nil, err
	}
	// Opening the store creates nothing outside it (only `serve` makes
	// the data directory, for its certificate and runtime file).
	a, err = openConfig(ctx, cfg, env, slog.LevelWarn)
	if err != nil {
		return nil, nil, err
	}
	return a, func() { a.Close() }, nil
}

// storeProblem says why cfg names no existing store, or returns nil. An
// SQLite store must exist (serve creates it at first start); the data
// directory is needed only when the store is in it. A PostgreSQL store
// needs no data store.
func storeProblem(cfg *config.Config) error {
	kind, loc, err := cfg.StoreKind()
	if err != nil || kind != config.KindSQLite {
		return err // a bad --store is reported by app.Open
	}
	if _, err := os.Stat(loc); !errors.Is(err, fs.ErrNotExist) {
		return nil // there (or unreadable, which app.Open reports)
	}
	if cfg.Store != "" {
		return fmt.Errorf("no uapid store at %s (start `uapid serve` with this --store first, or pass --store URL / set UAPID_STORE)", absPath(loc))
	}
	dir := absPath(cfg.DataDir)
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no uapid data directory at %s (start `uapid serve` there, or pass --data DIR / set UAPID_DATA)", dir)
	}
	return fmt.Errorf("no uapid store in %s: it has no %s (start `uapid serve` there, or pass --data DIR / set UAPID_DATA)", dir, filepath.Base(loc))
}

// absPath is p made absolute for messages (p itself if that fails).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func usageWith(err error, usage string) error {
	var u errUsage
	if errors.As(err, &u) {
		return errUsage{u.msg + "\n\n" + strings.TrimRight(usage, "\n")}
	}
	return err
}
