package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database at path to the file to,
// while the store stays open and busy: VACUUM INTO reads one snapshot (in
// WAL mode readers never block the writer, nor it them) and writes a
// compact copy. The copy is written beside to, synced, then renamed into
// place, so to is either absent or whole. An existing to is refused.
func Backup(ctx context.Context, path, to string) error {
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", to)
	}
	if _, err := os.Stat(trimScheme(path)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), filepath.Base(to)+".partial-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	os.Remove(tmpName) // VACUUM INTO wants to create the file itself
	defer os.Remove(tmpName)

	db, err := sql.Open("sqlite", fileURI(path, "_pragma=busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	f, err := os.Open(tmpName)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmpName, to); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The rename is durable once the directory is.
	if d, err := os.Open(filepath.Dir(to)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
