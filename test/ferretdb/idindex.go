package main

// FerretDB v1.24's SQLite backend builds each collection's unique _id index on the
// expression _ferretdb_sjson->"_id", but looks documents up with _ferretdb_sjson->'$._id'.
// SQLite uses an expression index only when the expressions match, so every find, update
// and delete by _id scans the whole table (an update by _id cost ~13 ms at 2,000 documents
// and grew with the collection). This loop rebuilds that index, under the same name and
// still unique, on the expression FerretDB queries with — both extract the same value, so
// what it enforces is unchanged — in one transaction, so uniqueness is never off. It
// changes no data and no FerretDB metadata (FerretDB finds the index by name and reports a
// duplicate key by SQLite's error code); FerretDB's connections re-prepare their
// statements when the schema changes.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

// indexIDs runs until ctx ends, checking the data directory every interval.
func indexIDs(ctx context.Context, dir string, interval time.Duration, logger *slog.Logger) {
	dbs := map[string]*sql.DB{}
	versions := map[string]int64{} // schema_version last seen per file: unchanged, nothing to do
	defer func() {
		for _, db := range dbs {
			_ = db.Close()
		}
	}()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		seen := map[string]bool{}
		for _, file := range files {
			seen[file] = true
			db, ok := dbs[file]
			if !ok {
				var err error
				db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_txlock=immediate")
				if err != nil {
					continue
				}
				db.SetMaxOpenConns(1)
				dbs[file] = db
			}
			var version int64
			if err := db.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version); err != nil {
				continue
			}
			if seenVersion, ok := versions[file]; ok && seenVersion == version {
				continue
			}
			if err := indexDatabase(ctx, db); err != nil {
				if ctx.Err() == nil {
					logger.Debug("id index", "file", file, "error", err)
				}
				continue
			}
			versions[file] = version
		}
		for file, db := range dbs {
			if !seen[file] {
				_ = db.Close()
				delete(dbs, file)
				delete(versions, file)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// indexDatabase rebuilds the _id indexes of one database file that are still on the
// expression FerretDB does not query with.
func indexDatabase(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT c.table_name, m.name, m.sql FROM _ferretdb_collections c
		JOIN sqlite_master m ON m.type = 'index' AND m.tbl_name = c.table_name AND m.name = c.table_name || '__id_'`)
	if err != nil {
		return err // no collection yet, or the file is being dropped
	}
	type index struct{ table, name string }
	var todo []index
	for rows.Next() {
		var t, n, q string
		if err := rows.Scan(&t, &n, &q); err == nil && !strings.Contains(q, "'$._id'") {
			todo = append(todo, index{t, n})
		}
	}
	_ = rows.Close()
	for _, ix := range todo {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmts := []string{
			fmt.Sprintf(`DROP INDEX %q`, ix.name),
			fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->'$._id')`, ix.name, ix.table),
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
