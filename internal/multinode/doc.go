// Package multinode holds the tests of several uapid nodes sharing one
// store: two servers on different ports with the same PostgreSQL store, or
// the same Redis session store (directory in PostgreSQL, or in each node's
// own SQLite file loaded from the same fixture). They check what a load
// balancer without sticky sessions relies on:
//
//   - a session created on node A logs in on node B;
//   - 50 concurrent logins of one session spread over both nodes give
//     exactly one success;
//   - a logout on B ends the session on A;
//   - a temporary database user created through A is dropped when its
//     session ends through B;
//   - killing a node mid-load (SIGKILL of a real uapid process) loses no
//     session that another node acknowledged, and nodes started together
//     on an empty store migrate it and load the fixture once;
//   - the same account, mailbox or token created through two processes at
//     the same moment gives exactly one success, and the winner's record
//     is intact (races_test.go);
//   - a root-locked suspension cannot be lifted by the reseller through
//     any node, and listaccts shows the same account notes on every store;
//   - brute-force limits hold for the cluster, not per node;
//   - OAuth codes and tokens of Webmail clients work across nodes, once
//     (oauth_test.go).
//
// Servers: UAPID_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; each test
// creates and drops its own database), UAPID_TEST_REDIS_URL (default
// redis://127.0.0.1:6379/0; each test uses its own key prefix and deletes
// it), and for the temporary-user test UAPID_TEST_MYSQL_DSN (default
// root@tcp(127.0.0.1:3306)/). When a server is unreachable the tests that
// need it are skipped, or fail when the environment variable CI is set.
//
// The package has no non-test code.
package multinode
