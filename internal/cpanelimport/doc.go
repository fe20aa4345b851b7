// Package cpanelimport reads what a cPanel server knows about its accounts,
// so that uapid can take them over with their passwords and API tokens
// working unchanged: accounts (owner, reseller status, plan, contact
// address, locale, start date, suspension with its reason and root lock,
// domains of every type, database names), their password hashes, their
// mailboxes (password hashes, login suspension, quotas) and API tokens
// (cPanel tokens of accounts, WHM tokens of root and resellers, kept as
// the SHA-512 digests cPanel stores).
//
// It reads a server's file system (or a copy of its relevant parts) or a
// pkgacct archive; docs/import-cpanel.md describes every file it reads.
// Both are read through one read-only fs.FS: a directory through os.Root,
// never following a symbolic link and never reading more than a bound per
// file; an archive as a tar stream, gzip-compressed or not, of which only
// the few files the importer reads are kept in memory (bounded in number
// and size) and nothing is ever written to disk. Unsafe archive entries
// (absolute names, "..", links, devices) are refused.
//
// The result is an importer.Batch: typed records plus every problem, with
// file and line, for package importer to compare with the directory and
// bring in. Nothing here writes, and no message quotes a password hash or
// a token digest.
package cpanelimport
