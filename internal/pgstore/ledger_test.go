package pgstore_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/pgstore"
	"github.com/uapid/uapid/internal/pgstore/pgtest"
	"github.com/uapid/uapid/internal/tempdb"
)

// TestLedger checks the PostgreSQL ledger as TestSQLiteLedgerRoundTrip
// checks the SQLite one, with two nodes on one database.
func TestLedger(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t, pgtest.NewDatabase(t))
	db := open(t, schema)
	l, other := pgstore.NewLedger(db), pgstore.NewLedger(open(t, schema))
	ctx := t.Context()

	if got, err := l.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List on empty ledger = %v, %v", got, err)
	}
	a := tempdb.User{Name: "cpses_al00000001", Password: "secret-a", Account: "alice", SessionID: "sess-a"}
	b := tempdb.User{Name: "cpses_bo00000002", Password: "secret-b", Account: "bob", SessionID: "sess-b"}
	if err := l.Record(ctx, a); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := other.Record(ctx, b); err != nil {
		t.Fatalf("Record on the other node: %v", err)
	}
	if err := other.Record(ctx, a); err != nil {
		t.Fatalf("Record again (other node): %v", err)
	}
	stolen := a
	stolen.SessionID = "sess-x"
	if err := other.Record(ctx, stolen); !errors.Is(err, tempdb.ErrNameTaken) {
		t.Fatalf("Record of a taken name = %v, want ErrNameTaken", err)
	}
	if err := l.Record(ctx, tempdb.User{Name: "x"}); !errors.Is(err, tempdb.ErrInvalidUser) {
		t.Fatalf("Record without session: %v", err)
	}
	want := []tempdb.User{
		{Name: a.Name, Account: a.Account, SessionID: a.SessionID},
		{Name: b.Name, Account: b.Account, SessionID: b.SessionID},
	}
	for _, ll := range []*pgstore.Ledger{l, other} {
		got, err := ll.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(x, y tempdb.User) int { return strings.Compare(x.Name, y.Name) })
		if !slices.Equal(got, want) {
			t.Fatalf("List = %+v, want %+v (no password)", got, want)
		}
	}
	if u, ok, err := other.Get(ctx, a.Name); err != nil || !ok || u != want[0] {
		t.Fatalf("Get = %+v, %v, %v", u, ok, err)
	}
	if _, ok, err := l.Get(ctx, "cpses_nobody"); err != nil || ok {
		t.Fatalf("Get of absent = %v, %v", ok, err)
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT COUNT(*) FROM temp_users WHERE name LIKE '%secret%' OR account LIKE '%secret%' OR session_id LIKE '%secret%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("password stored? %d, %v", n, err)
	}
	var cols []string
	rows, err := db.Pool().Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_name = 'temp_users' AND table_schema = current_schema() ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	if !slices.Equal(cols, []string{"name", "account", "session_id", "created_at"}) {
		t.Fatalf("temp_users columns = %v", cols)
	}
	if err := other.Remove(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(ctx, a.Name); err != nil {
		t.Fatalf("Remove of absent: %v", err)
	}
	if got, err := l.List(ctx); err != nil || !slices.Equal(got, want[1:]) {
		t.Fatalf("List after Remove = %+v, %v", got, err)
	}
}
