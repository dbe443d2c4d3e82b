package main

// FerretDB v1.24's SQLite backend builds each collection's unique _id index on the
// expression _ferretdb_sjson->"_id", but looks documents up with _ferretdb_sjson->'$._id'.
// SQLite only uses an expression index when the expressions match, so every find, update
// and delete by _id scans the whole table (an update by _id costs ~13 ms at 2,000
// documents and grows with the collection). This loop adds, beside FerretDB's own index,
// a plain index on the expression FerretDB queries with, to every collection table of
// every database file in the data directory. It changes no data and no FerretDB
// metadata; FerretDB's connections re-prepare their statements when the schema changes.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"
)

// indexIDs runs until ctx ends, checking the data directory every interval.
func indexIDs(ctx context.Context, dir string, interval time.Duration, logger *slog.Logger) {
	dbs := map[string]*sql.DB{}
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
				db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
				if err != nil {
					continue
				}
				db.SetMaxOpenConns(1)
				dbs[file] = db
			}
			if err := indexDatabase(ctx, db); err != nil && ctx.Err() == nil {
				logger.Debug("id index", "file", file, "error", err)
			}
		}
		for file, db := range dbs {
			if !seen[file] {
				_ = db.Close()
				delete(dbs, file)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// indexDatabase adds the missing _id expression indexes of one database file.
func indexDatabase(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '_hookline_id')`)
	if err != nil {
		return err // no collection yet, or the file is being dropped
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err == nil {
			tables = append(tables, t)
		}
	}
	_ = rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_hookline_id", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
