package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

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
			// A checkpoint that cannot finish now (readers on old frames) is simply tried again
			// after the next commits; its errors change nothing that was committed.
			_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
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
