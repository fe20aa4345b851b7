package tempdb

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestSQLiteLedgerRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, db := testLedger(t)

	if got, err := l.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("List on empty ledger = %v, %v", got, err)
	}
	a := User{Name: "cpses_al00000001", Password: "secret-a", Account: "alice", SessionID: "sess-a"}
	b := User{Name: "cpses_bo00000002", Password: "secret-b", Account: "bob", SessionID: "sess-b"}
	for _, u := range []User{a, b} {
		if err := l.Record(ctx, u); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	// Recording again for the same session is a no-op (a retried Create).
	if err := l.Record(ctx, a); err != nil {
		t.Fatalf("Record again: %v", err)
	}
	// The same name for another session is refused and changes nothing.
	stolen := a
	stolen.SessionID = "sess-x"
	if err := l.Record(ctx, stolen); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("Record of a taken name = %v, want ErrNameTaken", err)
	}

	got, err := l.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{Name: a.Name, Account: a.Account, SessionID: a.SessionID},
		{Name: b.Name, Account: b.Account, SessionID: b.SessionID},
	}
	slices.SortFunc(got, func(x, y User) int { return cmpString(x.Name, y.Name) })
	if !slices.Equal(got, want) {
		t.Fatalf("List = %+v, want %+v (no password)", got, want)
	}
	if u, ok, err := l.Get(ctx, a.Name); err != nil || !ok || u != want[0] {
		t.Fatalf("Get = %+v, %v, %v", u, ok, err)
	}
	if _, ok, err := l.Get(ctx, "cpses_nobody"); err != nil || ok {
		t.Fatalf("Get of absent = %v, %v", ok, err)
	}

	// The password is stored nowhere.
	var n int
	if err := db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM temp_users WHERE name LIKE '%secret%' OR account LIKE '%secret%' OR session_id LIKE '%secret%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("password stored? %d, %v", n, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('temp_users') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	if !slices.Equal(cols, []string{"name", "account", "session_id", "created_at"}) {
		t.Fatalf("temp_users columns = %v", cols)
	}

	if err := l.Remove(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(ctx, a.Name); err != nil {
		t.Fatalf("Remove of absent: %v", err)
	}
	// Reopening applies no migration twice and sees the same data.
	l2, err := NewSQLiteLedger(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	got, err = l2.List(ctx)
	if err != nil || !slices.Equal(got, want[1:]) {
		t.Fatalf("List after Remove = %+v, %v", got, err)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
