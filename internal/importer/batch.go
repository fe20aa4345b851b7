// Package importer brings accounts, with their domains, databases,
// mailboxes and API tokens, into uapid from records another system kept
// (package cpanelimport reads them from cPanel), safely: it compares each
// record with the directory and creates only what is absent, through the
// account lifecycle's create-only operations. A record equal to what uapid
// has is "unchanged"; one that differs is a "conflict" and is left
// untouched; nothing is ever overwritten or removed. A dry run makes the
// same decisions without writing. The Report says what happened to every
// item, with a summary per kind, as text and as JSON.
//
// An import may run while `uapid serve` runs on the same store: it is one
// more writer using create-only calls, so a name created meanwhile by
// another process is found taken by the store and reported, never
// replaced.
package importer

import (
	"fmt"

	"github.com/uapid/uapid/internal/store"
)

// Kind is what an item of an import is.
type Kind string

// The kinds of items, in the order the summary lists them. KindFile is a
// source or a file in it as a whole (a file that cannot be read, a
// malformed line that belongs to no one item).
const (
	KindAccount  Kind = "account"
	KindDomain   Kind = "domain"
	KindDatabase Kind = "database"
	KindMailbox  Kind = "mailbox"
	KindToken    Kind = "token"
	KindFile     Kind = "file"
)

// Kinds lists every kind in summary order.
var Kinds = []Kind{KindAccount, KindDomain, KindDatabase, KindMailbox, KindToken, KindFile}

// Where names the place a record or a problem comes from.
type Where struct {
	// Path is the source as given to the importer (a directory or an
	// archive).
	Path string
	// File is the file inside it, relative to it ("" for the source as a
	// whole); Line its line (0: none).
	File string
	Line int
}

func (w Where) String() string {
	switch {
	case w.File == "":
		return w.Path
	case w.Line > 0:
		return fmt.Sprintf("%s: %s:%d", w.Path, w.File, w.Line)
	}
	return w.Path + ": " + w.File
}

// At returns w at line n of file.
func (w Where) At(file string, line int) Where {
	return Where{Path: w.Path, File: file, Line: line}
}

// Batch is what a reader found in its sources: the records to bring into
// uapid and the problems met while reading them.
type Batch struct {
	Accounts []Account
	// RootTokens are root's API tokens.
	RootTokens []Token
	Problems   []Problem
}

// Account is an account as it should be in uapid (its Domains, first the
// main one, and its Databases included), with its mailboxes and tokens.
type Account struct {
	store.Account
	Source    Where
	Mailboxes []Mailbox
	Tokens    []Token
}

// Mailbox is a mailbox of an account (its Account field may be empty: the
// account it comes with).
type Mailbox struct {
	store.Mailbox
	Source Where
}

// Token is an API token with the hash it is to be stored under (its User
// may be empty: the account it comes with, or root).
type Token struct {
	store.Token
	Source Where
}

// Problem is something a reader could not bring over, or wants noted. Its
// Reason never contains a secret, a password hash or a token digest.
type Problem struct {
	Kind Kind
	// Item names what the problem is about ("alice", "info@alice.test",
	// "alice/ci"); "" for a file as a whole.
	Item   string
	Where  Where
	Reason string
	// Warning marks a problem that does not make the import fail: the
	// item came over, or there was nothing to bring.
	Warning bool
}
