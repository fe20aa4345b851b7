// Package outage holds the tests of uapid while its store is down: each
// test starts its own PostgreSQL (Debian's initdb and postgres binaries,
// run as the postgres user when the tests run as root) and, for the layout
// with sessions in Redis, its own redis-server (append-only file, fsync on
// every write), both on free loopback ports, and stops and restarts them by
// PID under a uapid node that keeps running. They check what an operator
// relies on during a database outage:
//
//   - every request answers promptly (well under --request-timeout) with
//     503 in the envelope of its path: UAPI JSON with status 0 on /execute,
//     WHM API 1 metadata with result 0 on /json-api, text elsewhere; never
//     a hang, never a 500 without a body, no panic;
//   - /readyz on --metrics-addr reports not ready;
//   - once the store is back, requests succeed again and /readyz is 200
//     within seconds, without restarting uapid;
//   - no session the node acknowledged before the outage is lost: each is
//     in the store afterwards, and each not used yet logs in (a login in
//     flight at the moment a store stopped may have been done by the store
//     with its answer lost; such a session is found used in the store).
//
// A second node on the same stores exempts loopback from brute-force
// protection, so that its authentication does not consult the counters
// kept with the sessions: with the session store down, its requests that
// need sessions fail inside the function and must answer 503 all the
// same.
//
// Binaries: /usr/lib/postgresql/*/bin/{initdb,postgres} and redis-server
// (on PATH). When one is missing the tests are skipped, or fail when the
// environment variable CI is set.
//
// The package has no non-test code.
package outage
