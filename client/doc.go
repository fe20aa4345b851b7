// Package client is a Go client for uapid and for real cPanel & WHM servers,
// which speak the same wire format: UAPI over /execute/{Module}/{function}
// on the cPanel (2083) and Webmail (2096) ports, WHM API 1 over
// /json-api/{function} on the WHM port (2087), and the one-time session
// logins at /cpsess…/login/.
//
// A [Client] talks to one service URL with one set of credentials:
//
//	c := client.New("https://host.example.com:2083", client.WithAPIToken("alice", token))
//	ws, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{
//		Login: "info", Domain: "alice.example",
//	})
//
// [Client.UAPI] and [Client.WHM] call any function; the typed methods cover
// the Session module (create_webmail_session_for_mail_user and its
// check_password variant, create_webmail_session_for_self,
// create_temp_user) and WHM's create_user_session.
//
// A session created that way is redeemed once, by a browser (send it to
// [WebmailSession.LoginURL] or [UserSession.URL]) or by this package: [Login]
// and [LoginURL] perform the login and return a [Session] whose
// [Session.Client] carries the session cookie and whose methods prefix the
// /cpsess… security token to every path.
//
// # Errors
//
// A call that reached the function and failed (UAPI status 0, WHM result 0)
// returns an [*APIError] with the server's messages, and for
// create_webmail_session_for_mail_user_check_password the typed reason in
// [APIError.Type] ([TypeBadPassword], [TypeUserNotFound], [TypeSuspended]).
// Refused credentials (HTTP 401 or 403) match [ErrAccessDenied] with
// [errors.Is] and are an [*HTTPError]; a refused session login is a
// [*LoginError] with cPanel's reason code (it also matches
// [ErrAccessDenied]). Any other HTTP status, and a body that is not the
// expected JSON, is an [*HTTPError] quoting the start of the body.
// Transport failures wrap the underlying error, so errors.Is(err,
// context.Canceled) and errors.Is(err, context.DeadlineExceeded) work.
//
// No error string contains a password, API token, session string or the
// query of a URL: arguments are sent in POST bodies, and the /cpsess…
// token is masked in the URLs that errors quote.
package client
