// Package browsertest holds end-to-end tests that drive a real browser
// (Chromium, through the DevTools protocol with chromedp) against a real
// uapid server started by internal/testserver, and the tests of the
// phpMyAdmin sign-on against Debian's real phpMyAdmin (internal/pmaserver)
// and MariaDB, in Chromium and over plain HTTP.
//
// The tests need the chromium binary (Debian: apt-get install chromium);
// the phpMyAdmin tests also php, Debian's phpmyadmin package and a MariaDB
// (UAPID_TEST_MYSQL_DSN, UAPID_TEST_MYSQL_SOCKET). Where one is missing
// they are skipped, except under CI (the environment variable CI is
// non-empty), where a missing tool is a failure.
package browsertest
