package server

import (
	"errors"
	"fmt"
	"net/http"

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
	caller, ok := s.authenticateAPI(w, r, service, token, hasToken)
	if !ok {
		return
	}
	args, err := uapi.ParseRequest(r, s.cfg.MaxBodyBytes)
	if err != nil {
		status := http.StatusBadRequest
		reason := "The request could not be parsed: " + err.Error()
		if errors.Is(err, uapi.ErrBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
			reason = fmt.Sprintf("The request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes)
		}
		writeJSON(w, status, map[string]any{"metadata": map[string]any{"command": function, "result": 0, "version": 1, "reason": reason}})
		return
	}
	version, _ := args.Get("api.version")
	env := s.app.WHM.Dispatch(r.Context(), function, version, caller, args)
	writeJSON(w, http.StatusOK, env)
}
