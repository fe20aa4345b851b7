package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrAccessDenied is matched (with [errors.Is]) by every error that means the
// server refused the credentials: an [*HTTPError] for HTTP 401 or 403, and a
// [*LoginError].
var ErrAccessDenied = errors.New("uapid client: access denied")

// Typed error data of create_webmail_session_for_mail_user_check_password
// ([APIError.Type]).
const (
	TypeUserNotFound = "UserNotFound" // the mailbox does not exist or is not the caller's
	TypeSuspended    = "Suspended"    // the mailbox's logins are suspended
	TypeBadPassword  = "BadPassword"  // the password is wrong (or brute-force protection answered)
)

// APIError is a call that reached the server's function and failed: UAPI
// status 0 or WHM API 1 result 0.
type APIError struct {
	// API is "UAPI" or "WHM API 1".
	API string
	// Module is the UAPI module ("" for WHM API 1).
	Module string
	// Function is the function called.
	Function string
	// Errors are the server's error messages (for WHM API 1: the
	// metadata's reason).
	Errors []string
	// Type and Detail are the typed error data some functions return in
	// "data" (e.g. {"type": "BadPassword", "detail": null}); Type is ""
	// otherwise.
	Type   string
	Detail json.RawMessage
	// Data is the raw "data" of the answer (may be nil or the JSON null).
	Data json.RawMessage
	// Messages and Warnings are the UAPI messages and warnings, if any.
	Messages, Warnings []string
}

// Error implements error.
func (e *APIError) Error() string {
	name := e.Function
	if e.Module != "" {
		name = e.Module + "::" + e.Function
	}
	msg := strings.Join(e.Errors, "; ")
	if msg == "" {
		msg = "the call failed without a message"
	}
	if e.Type != "" {
		msg += " (" + e.Type + ")"
	}
	return fmt.Sprintf("uapid client: %s %s: %s", e.API, name, msg)
}

// HTTPError is an HTTP answer the client could not use: a status other than
// the expected one, or a body that is not the expected JSON.
type HTTPError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Method and URL identify the request; URL has no query and its
	// /cpsess… token is masked.
	Method, URL string
	// ContentType is the response's Content-Type.
	ContentType string
	// Problem says what was wrong when the status alone does not, e.g.
	// "the response is not JSON".
	Problem string
	// Body is the start of the response body (at most about 512 bytes,
	// whitespace collapsed).
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "uapid client: %s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Problem != "" {
		b.WriteString(": " + e.Problem)
	}
	if e.ContentType != "" {
		b.WriteString(" (" + e.ContentType + ")")
	}
	if e.Body != "" {
		b.WriteString(": " + e.Body)
	} else {
		b.WriteString(": empty body")
	}
	return b.String()
}

// Unwrap makes an HTTP 401 or 403 match [ErrAccessDenied].
func (e *HTTPError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		return ErrAccessDenied
	}
	return nil
}

// Login failure codes ([LoginError.Code]) as cPanel and uapid name them.
const (
	CodeInvalidSession = "invalid_session" // unknown, malformed, already used or another service's session
	CodeExpiredSession = "expired_session" // the session expired
	CodeTokenIncorrect = "token_incorrect" // the /cpsess… token is not the session's
	CodeTokenMissing   = "token_missing"   // the request had no /cpsess… token
	CodeChangedIP      = "changed_ip"      // the client address is not the one the session was created for
	CodeInvalidLogin   = "invalid_login"   // bad credentials, or a suspended mailbox or account
)

var loginCodeText = map[string]string{
	CodeInvalidSession: "the session is not valid, or it was already used",
	CodeExpiredSession: "the session has expired",
	CodeTokenIncorrect: "the security token does not match the session",
	CodeTokenMissing:   "the request has no security token",
	CodeChangedIP:      "the session was created for a different IP address",
	CodeInvalidLogin:   "the login is not valid or the account is suspended",
}

// LoginError is a refused session login or a refused session (the server's
// HTTP 401 with a reason code). It matches [ErrAccessDenied].
type LoginError struct {
	// Code is the server's reason, one of the Code… constants (other
	// servers may send other codes).
	Code string
	// StatusCode is the HTTP status (normally 401).
	StatusCode int
}

// Error implements error.
func (e *LoginError) Error() string {
	msg := "uapid client: login refused: " + e.Code
	if t, ok := loginCodeText[e.Code]; ok {
		msg += " (" + t + ")"
	}
	return msg
}

// Unwrap makes a LoginError match [ErrAccessDenied].
func (e *LoginError) Unwrap() error { return ErrAccessDenied }

// codeRE finds the reason code on uapid's HTML login-failure page.
var codeRE = regexp.MustCompile(`<code id="code">([a-z_]{1,64})</code>`)

// loginErrorFrom reads a login failure from a response: the login_only=1
// JSON {"status":0,"message":"<code>"} or the HTML failure page. It returns
// nil when the body names no code.
func loginErrorFrom(status int, body []byte) *LoginError {
	var v struct {
		Status  json.RawMessage `json:"status"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil && v.Message != "" && validCode(v.Message) {
		return &LoginError{Code: v.Message, StatusCode: status}
	}
	if m := codeRE.FindSubmatch(body); m != nil {
		return &LoginError{Code: string(m[1]), StatusCode: status}
	}
	return nil
}

func validCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}

// maxErrorBody is how much of a body an [HTTPError] quotes.
const maxErrorBody = 512

// snippet is the start of body for an error message: valid UTF-8, control
// characters and runs of whitespace collapsed to one space, at most
// maxErrorBody bytes, "…" appended when cut.
func snippet(body []byte) string {
	var b strings.Builder
	space := false
	cut := false
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		i += n
		if r == utf8.RuneError && n == 1 {
			r = '\uFFFD'
		}
		if r < 0x20 || r == 0x7f || r == ' ' {
			if !space && b.Len() > 0 {
				space = true
			}
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxErrorBody {
			cut = true
			break
		}
		b.WriteRune(r)
	}
	s := b.String()
	if cut {
		s += "…"
	}
	return s
}
