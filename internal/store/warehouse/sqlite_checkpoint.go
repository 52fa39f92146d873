package warehouse

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how long the background checkpointer lets commits
// gather after the first one it sees: a burst of writes costs one
// checkpoint, and the WAL grows by at most this much writing.
const checkpointEvery = time.Second

// checkpointer copies the WAL into the database file in the background,
// so that no write waits for it. SQLite's automatic checkpoint runs inside
// the commit that crosses wal_autocheckpoint: that commit copied 64 MB and
// synced the database, and stalled the writer (and every write queued
// behind it) for 100–200 ms. The writer keeps its automatic checkpoint as
// a backstop for bursts that outrun this one.
type checkpointer struct {
	db     *sql.DB // its own connection: the readers are query-only
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer runs a checkpointer on db, woken by commits; stop it
// before closing the writer.
func startCheckpointer(db *sql.DB, commits <-chan struct{}) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, commits)
	return c
}

func (c *checkpointer) run(ctx context.Context, commits <-chan struct{}) {
	defer close(c.done)
	wait := time.NewTimer(checkpointEvery)
	wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-commits:
			if !ok {
				return
			}
		}
		wait.Reset(checkpointEvery)
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		// PASSIVE copies what no reader still needs and never blocks the
		// writer or the readers. A failure (SQLITE_BUSY from another
		// process's checkpoint, a full disk) leaves the frames in the WAL
		// for the next run or the writer's backstop: nothing is lost.
		_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// stop ends the checkpointer and closes its connection.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
