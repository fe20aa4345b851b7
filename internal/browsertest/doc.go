// Package browsertest holds end-to-end tests that drive a real browser
// (Chromium, through the DevTools protocol with chromedp) against a real
// uapid server started by internal/testserver.
//
// The tests need the chromium binary (Debian: apt-get install chromium). Where
// it is missing they are skipped, except under CI (the environment variable
// CI is non-empty), where a missing browser is a failure.
package browsertest
