// Command ferretdb runs FerretDB v1 (a MongoDB wire-protocol server on SQLite) for
// hookline's tests and demo on machines without MongoDB. It embeds FerretDB through its
// embeddable package because `go install` of FerretDB's own command panics at start
// (it expects a generated version file, FerretDB issue 2982).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "./ferretdb-data", "directory for the SQLite files")
	pgURL := flag.String("postgresql-url", "", "use this PostgreSQL database instead of SQLite files")
	sqliteParams := flag.String("sqlite-params", "", "query string appended to the SQLite URL, e.g. ?_pragma=synchronous(normal)")
	debugAddr := flag.String("debug-addr", "", "serve Go's pprof on this address (for profiling), e.g. 127.0.0.1:6060")
	verbose := flag.Bool("verbose", false, "log at info level instead of error")
	flag.Parse()

	// FerretDB allocates a lot per document (BSON to JSON and back) and keeps a small live
	// heap: with Go's default GOGC=100 the collector ran so often that hookline's bench
	// delivered 15 % more per second with 400 (docs/benchmarks.md). GOGC in the environment
	// still decides when it is set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(&lazyHandler{inner: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	config := &ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/" + *sqliteParams,
		Logger:    logger,
	}
	if *pgURL != "" {
		config.Handler = "postgresql"
		config.PostgreSQLURL = *pgURL
		config.SQLiteURL = ""
	}
	f, err := ferretdb.New(config)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go func() {
		// MongoDBURI blocks until the listener is bound, so this line means "ready".
		fmt.Println("ferretdb listening:", f.MongoDBURI())
	}()

	if *debugAddr != "" {
		go func() { log.Println(http.ListenAndServe(*debugAddr, nil)) }()
	}

	if config.Handler == "sqlite" {
		go indexIDs(ctx, *dir, 200*time.Millisecond, logger)
	}

	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
