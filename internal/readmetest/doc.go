// Package readmetest runs every shell example of the repository's README.md,
// extracted from the README itself, against a real `uapid serve --dev`, so
// that the README and uapid cannot drift apart. It also checks that the
// README and the files under docs/ link only to files (and headings) that
// exist in the repository, and that .ci/run calls the README's test
// command.
//
// The test builds uapid, uapi and whmapi1 once into a temporary directory
// and runs the examples with bash and curl (missing tools skip the test on
// a developer machine and fail it in CI, as elsewhere).
//
// # Conventions of README.md
//
// A fenced code block whose info string is sh, bash or shell is a shell
// example, and every shell example is run. Its lines make steps:
//
//   - A command is a line that does not start with "#", with the lines that
//     continue it (a line ending in "\" continues on the next).
//   - The "#" lines directly after a command (no blank line in between)
//     are its documented output: the command's standard output and error,
//     together, must match them, where "…" stands for any text and
//     whitespace (including line breaks) is ignored. A command without
//     such lines is checked only for its exit status.
//   - Every command must exit 0.
//   - "#" lines at the start of the block or after a blank line describe
//     the next command; they are not checked.
//   - Heredocs are not supported (use <<<).
//
// The steps of one block run in one bash process, in the directory where
// the server runs (so ./uapid-data is the server's), with the variables of
// the server's `export` lines set, as in the shell of a reader who pasted
// them. Before a command runs, "go run ./cmd/uapid", "./cmd/uapi" and
// "./cmd/whmapi1" become the built binaries, and in commands and documented
// output the default ports in "127.0.0.1:2083", "127.0.0.1:2096" and
// "127.0.0.1:2087" become the ports the server got.
//
// An HTML comment on the line directly before a block's opening fence
// changes how it is treated:
//
//   - <!-- readme-test: server --> marks the block that starts the server:
//     exactly one command, run in the background with its listeners on free
//     loopback ports (UAPID_CPANEL_ADDR and friends set to 127.0.0.1:0).
//     Its standard output must carry the `serve --dev` banner. Every other
//     shell example must come after it.
//   - <!-- readme-test: not run: REASON --> exempts a block that cannot run
//     in a test (it needs the internet, runs the test suite itself, takes
//     minutes); the reason is required. Keep these few.
//   - <!-- readme-test: fixture --> before a yaml block: the block must be a
//     valid fixture file.
//
// The package has no non-test code.
package readmetest
