package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// restartFrames is the log size (in pages) past which the checkpointer makes the log restart.
const restartFrames = 16384

// checkpointer copies the write-ahead log back into the database file from a connection of its
// own, so the writer connection (whose automatic checkpoint is off) never waits for it.
type checkpointer struct {
	db      *sql.DB
	every   int64
	commits atomic.Int64
	wake    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func startCheckpointer(dsn string, every int) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, every: int64(every), wake: make(chan struct{}, 1), quit: make(chan struct{})}
	c.wg.Go(c.loop)
	return c, nil
}

func (c *checkpointer) loop() {
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
			// A checkpoint that cannot finish now is simply tried again after the next commits;
			// its errors change nothing that was committed.
			ctx := context.Background()
			var busy, frames, done int
			err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
			// A passive checkpoint never blocks a writer, so under steady writes it may never
			// catch up with the end of the log, and the log, which restarts only once it is
			// fully copied, would grow without bound. Past restartFrames, a RESTART checkpoint
			// copies the rest while holding new writers for that short while (they wait under
			// their busy timeout), so the next write starts the log anew.
			if err == nil && frames > restartFrames {
				_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
			}
		}
	}
}

// committed counts a commit of the writer and wakes the checkpointer every c.every commits.
func (s *Store) committed() {
	c := s.ckpt
	if c == nil { // migrations, before Open started it
		return
	}
	if c.commits.Add(1)%c.every == 0 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) stop() error {
	var err error
	c.once.Do(func() {
		close(c.quit)
		c.wg.Wait()
		err = c.db.Close()
	})
	return err
}
