// upgtool: helper for producing the a03dd4e upgrade test data. Not part of the
// build (testdata); copy it into a worktree of a03dd4e as cmd/upgtool/main.go
// and build it there (it uses that release's secretbox, pgx and modernc.org/sqlite).
//
//	upgtool exec-sqlite FILE.sql NEW.db   one ExecContext of the whole file (foreign_keys ON)
//	upgtool exec-pg FILE.sql DSN          one Exec of the whole file, simple protocol
//	upgtool open KEYFILE HEX CONTEXT      secretbox.Open of a sealed value
package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/uapid/uapid/internal/secretbox"
)

func main() {
	ctx := context.Background()
	die := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "upgtool:", err)
			os.Exit(1)
		}
	}
	switch os.Args[1] {
	case "exec-sqlite":
		b, err := os.ReadFile(os.Args[2])
		die(err)
		db, err := sql.Open("sqlite", "file:"+os.Args[3]+"?_pragma=foreign_keys(ON)")
		die(err)
		db.SetMaxOpenConns(1)
		_, err = db.ExecContext(ctx, string(b))
		die(err)
		rows, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
		die(err)
		if rows.Next() {
			die(fmt.Errorf("foreign key violations"))
		}
		rows.Close()
		die(db.Close())
		fmt.Println("ok")
	case "exec-pg":
		b, err := os.ReadFile(os.Args[2])
		die(err)
		cfg, err := pgx.ParseConfig(os.Args[3])
		die(err)
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		die(err)
		_, err = conn.Exec(ctx, string(b))
		die(err)
		die(conn.Close(ctx))
		fmt.Println("ok")
	case "open":
		k, err := os.ReadFile(os.Args[2])
		die(err)
		key, err := secretbox.ParseKey(k)
		die(err)
		box, err := secretbox.New(key, nil)
		die(err)
		sealed, err := hex.DecodeString(strings.TrimPrefix(os.Args[3], "\\x"))
		die(err)
		pt, err := box.Open(sealed, []byte(os.Args[4]))
		die(err)
		fmt.Print(string(pt))
	}
}
