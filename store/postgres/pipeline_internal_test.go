package postgres

import (
	"context"
	"testing"
)

// A COMMIT piped after the transaction has failed is answered ROLLBACK,
// not an error, by PostgreSQL: the pipeline must make it one, or a batch
// would take its work for committed.
func TestPipedCommitOfAFailedTransactionFails(t *testing.T) {
	ctx := context.Background()
	db, err := openPool(ctx, testURL(t), StatementTimeout, "on", "malipo")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1/0"); err == nil {
		t.Fatal("dividing by zero did not fail")
	}
	var affected []int64
	err = conn.Raw(func(driverConn any) error {
		affected, err = pipeline(ctx, driverConn, []string{"COMMIT"}, [][]any{nil})
		return err
	})
	if err == nil {
		t.Errorf("a piped COMMIT of a failed transaction: no error (affected %v)", affected)
	}
}
