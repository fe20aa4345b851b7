// Package webmail holds the files that make Roundcube and Dovecot use
// uapid as their authority (docs/webmail.md): the Roundcube plugin, the
// Dovecot Lua script, and templates of their configuration. They are
// embedded, so that `uapid webmail config` writes them out for a server
// and `uapid webmail demo` and the tests run Dovecot and Roundcube with
// exactly these files.
package webmail

import "embed"

// Files are the files below this directory: dovecot/ (configuration
// templates and the Lua script) and roundcube/ (the configuration
// template and the plugin uapid/).
//
//go:embed dovecot roundcube
var Files embed.FS
