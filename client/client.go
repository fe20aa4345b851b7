package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client calls one cPanel, Webmail or WHM service (one base URL) with one
// set of credentials. It is safe for concurrent use.
type Client struct {
	base   *url.URL // scheme and host, path without trailing '/'
	err    error    // a configuration error, returned by every call
	prefix string   // "/cpsess…" for a session-bound client, else ""
	authz  string   // Authorization header value, "" for none
	hc     *http.Client
	ua     string
	// timeout bounds each call (0: none).
	timeout time.Duration
}

// Option configures a [Client] (and the HTTP client of [Login]).
type Option func(*settings)

type settings struct {
	authz     string
	hc        *http.Client
	timeout   time.Duration
	tlsConfig *tls.Config
	userAgent string
}

// WithBasicAuth authenticates with a password: a cPanel account on the cPanel
// ports, a mailbox (login@domain) on the Webmail ports, root or a reseller on
// the WHM ports.
func WithBasicAuth(user, password string) Option {
	return func(s *settings) {
		s.authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	}
}

// WithAPIToken authenticates with a cPanel API token
// ("Authorization: cpanel user:TOKEN"), for the cPanel ports.
func WithAPIToken(user, token string) Option {
	return func(s *settings) { s.authz = "cpanel " + user + ":" + token }
}

// WithWHMToken authenticates with a WHM API token
// ("Authorization: whm user:TOKEN"), for the WHM ports (root's or a
// reseller's token).
func WithWHMToken(user, token string) Option {
	return func(s *settings) { s.authz = "whm " + user + ":" + token }
}

// WithHTTPClient makes the client send its requests through hc (which is
// copied, never modified). The default is a client like
// [http.DefaultClient].
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) { s.hc = hc }
}

// WithTimeout bounds each call, from sending the request to reading the
// whole answer. The default is no bound other than the context's.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) { s.timeout = d }
}

// WithTLSConfig sets the TLS configuration, e.g. RootCAs trusting a
// self-signed certificate. It applies to the transport of the
// [WithHTTPClient] client (a clone of it), which must then be an
// [*http.Transport] or nil.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(s *settings) { s.tlsConfig = cfg }
}

// WithUserAgent sets the User-Agent header (default "uapid-client/<version>").
func WithUserAgent(ua string) Option {
	return func(s *settings) { s.userAgent = ua }
}

func collect(opts []Option) *settings {
	s := &settings{}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

// httpClient returns a copy of the configured HTTP client with the TLS
// configuration applied. owned reports whether its transport was made here
// (and may be closed).
func (s *settings) httpClient() (hc *http.Client, owned bool, err error) {
	c := &http.Client{}
	if s.hc != nil {
		*c = *s.hc
	}
	if s.tlsConfig != nil {
		var t *http.Transport
		switch rt := c.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = rt.Clone()
		default:
			return nil, false, fmt.Errorf("uapid client: WithTLSConfig needs the HTTP client's Transport to be an *http.Transport or nil, not %T", rt)
		}
		t.TLSClientConfig = s.tlsConfig.Clone()
		c.Transport = t
		owned = true
	}
	return c, owned, nil
}

func (s *settings) agent() string {
	if s.userAgent != "" {
		return s.userAgent
	}
	return "uapid-client/" + moduleVersion()
}

// New returns a client for the service at baseURL, e.g.
// "https://host.example.com:2083" (cPanel), ":2096" (Webmail) or ":2087"
// (WHM). A path in baseURL is kept as a prefix (for a server behind a
// reverse proxy). An invalid URL or option is reported by every call.
func New(baseURL string, opts ...Option) *Client {
	s := collect(opts)
	c := &Client{authz: s.authz, ua: s.agent(), timeout: s.timeout}
	c.base, c.err = parseBase(baseURL)
	if c.err == nil {
		c.hc, _, c.err = s.httpClient()
	}
	return c
}

// parseBase checks a service URL and returns it without user
// information, query, fragment and trailing '/'.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("uapid client: the base URL must be an absolute http:// or https:// URL, e.g. https://host.example.com:2083")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}, nil
}

// String describes the client without its credentials.
func (c *Client) String() string {
	if c.base == nil {
		return "client.Client(invalid)"
	}
	return "client.Client(" + c.base.String() + ")"
}

// GoString describes the client without its credentials.
func (c *Client) GoString() string { return c.String() }

// BaseURL returns the service URL the client calls ("" if invalid).
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// maxResponse is the largest answer read.
const maxResponse = 64 << 20

// response is a read answer.
type response struct {
	status      int
	contentType string
	body        []byte
	method, url string // url redacted
}

func (r *response) httpError(problem string) *HTTPError {
	return &HTTPError{StatusCode: r.status, Method: r.method, URL: r.url, ContentType: r.contentType,
		Problem: problem, Body: snippet(r.body)}
}

// post sends form as a urlencoded POST body to path (under the base URL and
// the session token) with query, and reads the whole answer.
func (c *Client) post(ctx context.Context, path string, query, form url.Values) (*response, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	u := *c.base
	u.Path = c.base.Path + c.prefix + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("uapid client: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	return send(c.hc, req)
}

// send does req with hc and reads the whole answer. Transport errors are
// returned without the request's query or token.
func send(hc *http.Client, req *http.Request) (*response, error) {
	shown := redact(req.URL)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(req.Method, shown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, transportError(req.Method, shown, err)
	}
	r := &response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body, method: req.Method, url: shown}
	if len(body) > maxResponse {
		r.body = body[:maxErrorBody]
		return nil, r.httpError(fmt.Sprintf("the response is larger than %d bytes", maxResponse))
	}
	return r, nil
}

// transportError is a failure to exchange a request, without the URL that
// *url.Error would quote.
func transportError(method, shown string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("uapid client: %s %s: %w", method, shown, err)
}

var tokenInPath = regexp.MustCompile(`/cpsess[0-9]+`)

// redact is u for error messages: no user information, no query, and the
// /cpsess… token masked.
func redact(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return tokenInPath.ReplaceAllString(v.String(), "/cpsess**********")
}

// Result is a UAPI function's answer.
type Result struct {
	// Data is the raw JSON of "data" (the JSON literal null when the
	// function returned none). Use [Result.Decode] to read it.
	Data json.RawMessage
	// Errors, Messages and Warnings are nil when the server sent null.
	Errors, Messages, Warnings []string
	// Metadata is "metadata"; numbers in it are [json.Number].
	Metadata map[string]any
	// Status is 1 for success and 0 for failure.
	Status int
}

// Decode unmarshals Data into v.
func (r *Result) Decode(v any) error {
	if len(r.Data) == 0 {
		return errors.New("uapid client: the result has no data")
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("uapid client: decode data: %w", err)
	}
	return nil
}

// UAPI calls a UAPI function, /execute/{module}/{function}, with args sent
// as a POST body (a repeated key is a list). A result with status 0 is
// returned together with an [*APIError].
func (c *Client) UAPI(ctx context.Context, module, function string, args url.Values) (*Result, error) {
	r, err := c.post(ctx, "/execute/"+url.PathEscape(module)+"/"+url.PathEscape(function), nil, args)
	if err != nil {
		return nil, err
	}
	return uapiResult(r, module, function)
}

// UAPIAsUser calls a UAPI function as the cPanel account user through WHM's
// /json-api/cpanel (cpanel_jsonapi_apiversion=3), the way root or a reseller
// acts for the accounts it manages. c must be a WHM client.
func (c *Client) UAPIAsUser(ctx context.Context, user, module, function string, args url.Values) (*Result, error) {
	form := url.Values{}
	for k, v := range args {
		form[k] = v
	}
	form.Set("cpanel_jsonapi_user", user)
	form.Set("cpanel_jsonapi_module", module)
	form.Set("cpanel_jsonapi_func", function)
	form.Set("cpanel_jsonapi_apiversion", "3")
	r, err := c.post(ctx, "/json-api/cpanel", nil, form)
	if err != nil {
		return nil, err
	}
	return uapiResult(r, module, function)
}

// wireResult is a UAPI answer, bare or wrapped ({"apiversion": 3, "result":
// {…}}).
type wireResult struct {
	Data       json.RawMessage `json:"data"`
	Errors     stringList      `json:"errors"`
	Messages   stringList      `json:"messages"`
	Warnings   stringList      `json:"warnings"`
	Metadata   json.RawMessage `json:"metadata"`
	Status     *flexInt        `json:"status"`
	APIVersion json.RawMessage `json:"apiversion"`
	Result     json.RawMessage `json:"result"`
}

func uapiResult(r *response, module, function string) (*Result, error) {
	if r.status != http.StatusOK {
		return nil, r.httpError("")
	}
	var w wireResult
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, r.httpError("the response is not JSON")
	}
	if w.Status == nil && len(w.APIVersion) > 0 && len(w.Result) > 0 {
		w = wireResult{}
		if err := json.Unmarshal(r.body, &struct {
			Result *wireResult `json:"result"`
		}{&w}); err != nil {
			return nil, r.httpError("the response is not a UAPI result")
		}
	}
	if w.Status == nil {
		return nil, r.httpError("the response is not a UAPI result")
	}
	res := &Result{Data: w.Data, Errors: w.Errors, Messages: w.Messages, Warnings: w.Warnings, Status: int(*w.Status)}
	if len(res.Data) == 0 {
		res.Data = json.RawMessage("null")
	}
	if len(w.Metadata) > 0 && !bytes.Equal(w.Metadata, []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(w.Metadata))
		d.UseNumber()
		if err := d.Decode(&res.Metadata); err != nil {
			return nil, r.httpError("the result's metadata is not an object")
		}
	}
	if res.Status == 0 {
		e := &APIError{API: "UAPI", Module: module, Function: function, Errors: res.Errors,
			Data: res.Data, Messages: res.Messages, Warnings: res.Warnings}
		var typed struct {
			Type   string          `json:"type"`
			Detail json.RawMessage `json:"detail"`
		}
		if json.Unmarshal(res.Data, &typed) == nil {
			e.Type, e.Detail = typed.Type, typed.Detail
		}
		return res, e
	}
	return res, nil
}

// WHMResult is a WHM API 1 function's answer.
type WHMResult struct {
	// Data is the raw JSON of "data" (nil when the answer had none, as
	// failed answers do).
	Data json.RawMessage
	// Metadata is the answer's "metadata".
	Metadata WHMMetadata
}

// WHMMetadata is the "metadata" of a WHM API 1 answer.
type WHMMetadata struct {
	Command string
	Reason  string
	// Result is 1 for success and 0 for failure.
	Result  int
	Version int
	// Output is "output" when the server sent it (cPanel puts messages,
	// warnings and raw command output there); nil otherwise.
	Output json.RawMessage
}

// Decode unmarshals Data into v.
func (r *WHMResult) Decode(v any) error {
	if len(r.Data) == 0 {
		return errors.New("uapid client: the result has no data")
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("uapid client: decode data: %w", err)
	}
	return nil
}

// WHM calls a WHM API 1 function, /json-api/{function}?api.version=1, with
// args sent as a POST body. A result of 0 is returned together with an
// [*APIError] carrying the reason.
func (c *Client) WHM(ctx context.Context, function string, args url.Values) (*WHMResult, error) {
	form := url.Values{}
	for k, v := range args {
		if k != "api.version" {
			form[k] = v
		}
	}
	r, err := c.post(ctx, "/json-api/"+url.PathEscape(function), url.Values{"api.version": {"1"}}, form)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		return nil, r.httpError("")
	}
	var w struct {
		Metadata *struct {
			Command string          `json:"command"`
			Reason  string          `json:"reason"`
			Result  flexInt         `json:"result"`
			Version flexInt         `json:"version"`
			Output  json.RawMessage `json:"output"`
		} `json:"metadata"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, r.httpError("the response is not JSON")
	}
	if w.Metadata == nil {
		return nil, r.httpError("the response is not a WHM API 1 answer")
	}
	res := &WHMResult{Data: w.Data, Metadata: WHMMetadata{Command: w.Metadata.Command, Reason: w.Metadata.Reason,
		Result: int(w.Metadata.Result), Version: int(w.Metadata.Version), Output: w.Metadata.Output}}
	if res.Metadata.Result == 0 {
		e := &APIError{API: "WHM API 1", Function: function, Data: w.Data}
		if res.Metadata.Reason != "" {
			e.Errors = []string{res.Metadata.Reason}
		}
		return res, e
	}
	return res, nil
}

// stringList decodes null, a string or a list of values as strings (a
// non-string element as its JSON text).
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(stringList, 0, len(raw))
	for _, e := range raw {
		var s string
		if json.Unmarshal(e, &s) == nil {
			out = append(out, s)
		} else {
			out = append(out, string(e))
		}
	}
	*l = out
	return nil
}

// flexInt decodes a JSON number, a numeric string or a boolean as an
// integer (cPanel sends 1 and 0, occasionally as "1" and "0").
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "null", `""`:
		*n = 0
		return nil
	case "true":
		*n = 1
		return nil
	case "false":
		*n = 0
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = flexInt(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*n = flexInt(f)
	return nil
}

const modulePath = "github.com/uapid/uapid"

// moduleVersion is the version of this module in the running binary.
var moduleVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	} else {
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				v = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
})
