package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cardsaddon/extprod/ports"
)

// Group commit. Writes of one process queue for the one writer connection; whoever holds the
// writer takes every write queued meanwhile into the same BEGIN IMMEDIATE transaction, each
// under its own SAVEPOINT, and commits them together. A write that fails rolls back to its
// savepoint only; a failed BEGIN or COMMIT fails every write of the batch, so no caller is told
// that a write was stored unless its commit succeeded. Under load this turns many small commits
// (each a WAL append) into few, which is where the throughput of one writer goes.

// maxBatch bounds the writes one transaction carries.
const maxBatch = 128

// writeReq is one queued write.
type writeReq struct {
	ctx   context.Context
	op    string
	fn    func(tx *wtx) error
	state atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	done  chan error
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// writeQueue holds the writes waiting for the writer.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeReq
	leader  chan struct{} // a token: whoever holds it runs batches
	queued  atomic.Int64  // writes queued and not yet taken (for tests)
	closed  bool          // under mu: the Store is closed, no write is queued any more
}

// errClosed is the error of a write to a closed Store.
var errClosed = fmt.Errorf("the store is closed: %w", ports.ErrUnavailable)

// close refuses later writes and fails the queued ones; the caller holds the leader token.
func (q *writeQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, r := range q.pending {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			r.done <- fmt.Errorf("sqlite: %s: %w", r.op, errClosed)
		}
	}
	q.pending = nil
}

func newWriteQueue() *writeQueue { return &writeQueue{leader: make(chan struct{}, 1)} }

// write runs fn in a BEGIN IMMEDIATE transaction on the writer connection, possibly together
// with other writes of this process, and returns once that transaction committed (nil) or fn or
// the transaction failed. A context that ends before fn starts abandons the write; once fn has
// started, it runs to its end (interrupting a statement would roll back the whole transaction,
// the other writes of the batch included).
func (s *Store) write(ctx context.Context, op string, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	q := s.q
	req := &writeReq{ctx: ctx, op: op, fn: fn, done: make(chan error, 1)}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("sqlite: %s: %w", op, errClosed)
	}
	q.pending = append(q.pending, req)
	q.mu.Unlock()
	q.queued.Add(1)
	for {
		select {
		case err := <-req.done:
			return err
		case q.leader <- struct{}{}:
			for req.state.Load() == reqQueued {
				s.runBatch()
			}
			<-q.leader
		case <-ctx.Done():
			if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
				q.queued.Add(-1)
				return dbErr(ctx, op, ctx.Err())
			}
			return <-req.done // taken: its outcome is coming
		}
	}
}

// take removes up to maxBatch live writes from the queue and marks them taken.
func (q *writeQueue) take() []*writeReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	var batch []*writeReq
	i := 0
	for ; i < len(q.pending) && len(batch) < maxBatch; i++ {
		r := q.pending[i]
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			q.queued.Add(-1)
			batch = append(batch, r)
		}
	}
	q.pending = append(q.pending[:0], q.pending[i:]...)
	return batch
}

// wtx is the transaction a write runs in: the writer connection inside BEGIN IMMEDIATE. Its
// statements are prepared once per Store and reused. They run to completion whatever the
// caller's context (the ctx arguments are ignored): a write that has started finishes, so that
// an interrupt cannot roll back the other writes of its batch.
type wtx struct{ s *Store }

// stmt returns the prepared statement of query on the writer connection, preparing it once.
func (t *wtx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.s.stmts[query]; ok {
		return st, nil
	}
	st, err := t.s.wc.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	t.s.stmts[query] = st
	return st, nil
}

// ExecContext runs one statement.
func (t *wtx) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

// QueryContext runs one query; close the rows before the next statement.
func (t *wtx) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

// QueryRowContext runs a query of at most one row.
func (t *wtx) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		// A statement that does not prepare: let Scan report it.
		return t.s.wc.QueryRowContext(context.Background(), query, args...)
	}
	return st.QueryRowContext(context.Background(), args...)
}

// execScript runs several statements at once, unprepared (migrations).
func (t *wtx) execScript(query string) error {
	_, err := t.s.wc.ExecContext(context.Background(), query)
	return err
}

// runBatch begins a transaction, runs the queued writes in it and commits.
func (s *Store) runBatch() {
	tx := &wtx{s: s}
	_, err := tx.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	batch := s.q.take()
	if len(batch) == 0 {
		if err == nil {
			_, _ = tx.ExecContext(context.Background(), "ROLLBACK")
		}
		return
	}
	if err != nil {
		for _, r := range batch {
			r.done <- dbErr(r.ctx, r.op, err)
		}
		return
	}
	results := make([]error, len(batch))
	ok := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = dbErr(r.ctx, r.op, err)
			continue
		}
		if len(batch) == 1 {
			results[i] = r.fn(tx)
		} else {
			results[i] = savepoint(tx, r.fn)
		}
		if results[i] == nil {
			ok++
		} else {
			results[i] = dbErr(r.ctx, r.op, results[i])
		}
	}
	var cerr error
	if ok == 0 {
		_, _ = tx.ExecContext(context.Background(), "ROLLBACK")
	} else if _, cerr = tx.ExecContext(context.Background(), "COMMIT"); cerr == nil {
		s.committed()
	} else {
		_, _ = tx.ExecContext(context.Background(), "ROLLBACK")
	}
	for i, r := range batch {
		if results[i] == nil && cerr != nil {
			results[i] = dbErr(r.ctx, r.op, cerr)
		}
		r.done <- results[i]
	}
}

// savepoint runs fn under a savepoint of tx and undoes only fn's work when it fails.
func savepoint(tx *wtx, fn func(tx *wtx) error) error {
	if _, err := tx.ExecContext(context.Background(), "SAVEPOINT w"); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if _, rerr := tx.ExecContext(context.Background(), "ROLLBACK TO w"); rerr != nil {
			return fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		_, _ = tx.ExecContext(context.Background(), "RELEASE w")
		return err
	}
	_, err := tx.ExecContext(context.Background(), "RELEASE w")
	return err
}
