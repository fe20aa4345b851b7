// Package phpmyadmin holds the files that put Debian's phpMyAdmin behind
// uapid's sign-on (docs/phpmyadmin.md): the sign-on script, phpMyAdmin's
// configuration, a sample of the script's settings, and the web server's
// configuration (nginx.conf, apache.conf; not embedded). They are installed
// as they are; the Go package only embeds them, so that the tests and the
// local demo run exactly the files that ship.
package phpmyadmin

import _ "embed"

// SignOnScript is uapid-signon.php: phpMyAdmin's SignonScript and the
// sign-on page (SignonURL).
//
//go:embed uapid-signon.php
var SignOnScript []byte

// Config is uapid.inc.php, phpMyAdmin's configuration for the sign-on
// (/etc/phpmyadmin/conf.d/uapid.php on Debian).
//
//go:embed uapid.inc.php
var Config []byte

// SampleSettings is phpmyadmin-signon.sample.php, the sample of the
// script's settings (/etc/uapid/phpmyadmin-signon.php).
//
//go:embed phpmyadmin-signon.sample.php
var SampleSettings []byte
