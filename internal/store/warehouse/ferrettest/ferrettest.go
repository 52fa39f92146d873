// Package ferrettest runs FerretDB (SQLite handler) inside a test process as
// a real MongoDB wire server, for the tests of twin's MongoDB code paths.
// Only tests import it, so FerretDB never reaches the binary. It proves the
// driver calls and the queries at small sizes, nothing more: FerretDB has no
// change streams, TTL indexes or transactions, scans whole collections on
// updates, and its $inc is not atomic under concurrency.
package ferrettest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// newMu serializes ferretdb.New, which writes a package-level version
// record of FerretDB's: parallel tests starting servers would race on it.
var newMu sync.Mutex

// Start runs FerretDB on a loopback port until the test ends and returns
// its MongoDB URI.
func Start(tb testing.TB) string {
	tb.Helper()
	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    logger(),
		Handler:   "sqlite",
		SQLiteURL: "file:" + tb.TempDir() + "/",
	})
	newMu.Unlock()
	if err != nil {
		tb.Fatalf("start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	// MongoDBURI waits until the listener is up.
	return f.MongoDBURI()
}

// logger discards FerretDB's logs unless TWIN_TEST_FERRETDB_LOG is set (to
// debug a FerretDB failure: it logs panics and error replies).
func logger() *slog.Logger {
	if os.Getenv("TWIN_TEST_FERRETDB_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}
