package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// serveWHM runs /json-api/{function} (WHM API 1) on the WHM listeners.
func (s *Server) serveWHM(w http.ResponseWriter, r *http.Request, service, token string, hasToken bool, function string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"metadata": map[string]any{
			"command": function, "result": 0, "version": 1, "reason": "The “" + r.Method + "” method is not allowed; use GET or POST."}})
		return
	}
	switch {
	case function == "cpanel" || s.app.WHM.Has(function):
		setRoute(r, "whm", function)
	default:
		setRoute(r, "whm", "unknown")
	}
	caller, ok := s.authenticateAPI(w, r, service, token, hasToken)
	if !ok {
		return
	}
	args, err := uapi.ParseRequestJSON(r, s.cfg.MaxBodyBytes)
	if err != nil {
		status := http.StatusBadRequest
		reason := "The request could not be parsed: " + err.Error()
		if tooLarge(err) {
			status = http.StatusRequestEntityTooLarge
			reason = fmt.Sprintf("The request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes)
		}
		writeJSON(w, status, map[string]any{"metadata": map[string]any{"command": function, "result": 0, "version": 1, "reason": reason}})
		return
	}
	if function == "cpanel" {
		s.serveCPanelProxy(w, r, caller, args)
		return
	}
	version, _ := args.Get("api.version")
	if version == "" || version == "0" {
		// WHM API 0: the older form integrators still send.
		body, err := s.app.WHM.DispatchAPI0(r.Context(), function, caller, args)
		if err != nil && s.unavailable(w, r, err) {
			return
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	env := s.app.WHM.Dispatch(r.Context(), function, version, caller, args)
	if err := env.Err(); err != nil && s.unavailable(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, env)
}

// serveCPanelProxy runs a UAPI function as a cPanel account through
// /json-api/cpanel (cpanel_jsonapi_apiversion=3), for root or the reseller
// owning the account, and answers the wrapped form.
func (s *Server) serveCPanelProxy(w http.ResponseWriter, r *http.Request, caller uapi.Caller, args *uapi.Args) {
	user, _ := args.Get("cpanel_jsonapi_user")
	module, _ := args.Get("cpanel_jsonapi_module")
	function, _ := args.Get("cpanel_jsonapi_func")
	version, _ := args.Get("cpanel_jsonapi_apiversion")
	fail := func(msg string) {
		writeJSON(w, http.StatusOK, uapi.Wrap(module, function, uapi.Fail(msg)))
	}
	if msg := args.Require("cpanel_jsonapi_user", "cpanel_jsonapi_module", "cpanel_jsonapi_func"); msg != "" {
		fail(msg)
		return
	}
	if version != "3" {
		fail("This server runs only UAPI functions through this interface: set “cpanel_jsonapi_apiversion” to 3.")
		return
	}
	ctx := r.Context()
	invalid := "User parameter is invalid or was not supplied"
	acct, err := s.app.Dir.GetAccount(ctx, strings.ToLower(user))
	if errors.Is(err, store.ErrNotFound) {
		fail(invalid)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	// Resellers reach only the accounts they own; for them an account they
	// do not own looks like one that does not exist.
	if caller.User != store.RootUser && acct.Owner != caller.User && acct.User != caller.User {
		fail(invalid)
		return
	}
	inner := uapi.NewArgs()
	for _, k := range args.Keys() {
		if strings.HasPrefix(k, "cpanel_jsonapi_") || k == "api.version" {
			continue
		}
		for _, v := range args.List(k) {
			inner.Add(k, v)
		}
	}
	locale := acct.Locale
	if locale == "" {
		locale = "en"
	}
	as := uapi.Caller{User: acct.User, Service: uapi.ServiceCPanel, Method: caller.Method, RemoteAddr: caller.RemoteAddr, Locale: locale}
	res := s.app.Registry.Dispatch(ctx, &uapi.Call{Module: module, Function: function, Args: inner, Caller: as})
	if err := res.Err(); err != nil && s.unavailable(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, uapi.Wrap(module, function, res))
}
