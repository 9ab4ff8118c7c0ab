package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.Store            = (*Store)(nil)
	_ ports.ScriptStore      = (*Store)(nil)
	_ ports.IdempotencyStore = (*Store)(nil)
	_ ports.EventDedup       = (*Store)(nil)
	_ ports.JobLeases        = (*Store)(nil)
)

// Config tunes a [Store]. Its zero value is the documented defaults; a nil *Config is the zero
// value.
type Config struct {
	// BusyTimeout is how long a write waits for the database's one write lock (held by another
	// process or connection) before it fails with [ports.ErrUnavailable]; default 5 s.
	BusyTimeout time.Duration
	// ReadConns bounds the reader pool; default 2 × GOMAXPROCS, at least 4.
	ReadConns int
	// MaxPage caps a [Store.List] page; default 1000.
	MaxPage int
	// CheckpointEvery is how many commits of this Store pass between two checkpoints of the
	// write-ahead log, which a background connection runs (PASSIVE: it never blocks a writer or
	// a reader); default 1000. Writers never checkpoint themselves, so no write waits for the
	// checkpoint's fsync.
	CheckpointEvery int
}

// WithDefaults returns a copy of c (nil is the zero Config) with every zero field set to its
// default. Negative values are left for validate to refuse.
func (c *Config) WithDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.BusyTimeout == 0 {
		out.BusyTimeout = 5 * time.Second
	}
	if out.ReadConns == 0 {
		out.ReadConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if out.MaxPage == 0 {
		out.MaxPage = 1000
	}
	if out.CheckpointEvery == 0 {
		out.CheckpointEvery = 1000
	}
	return out
}

func (c Config) validate() error {
	var errs []error
	if c.BusyTimeout < 0 {
		errs = append(errs, errors.New("BusyTimeout is negative"))
	}
	if c.ReadConns < 0 {
		errs = append(errs, errors.New("ReadConns is negative"))
	}
	if c.CheckpointEvery < 0 {
		errs = append(errs, errors.New("CheckpointEvery is negative"))
	}
	if c.MaxPage < 0 {
		errs = append(errs, errors.New("MaxPage is negative"))
	}
	return errors.Join(errs...)
}

// Store is the SQLite store: cards with their queue and outbox, the option script, idempotency
// records, bureau-event dedup and job leases, in one database file. It is safe for concurrent
// use, and several processes may open the same file. Close it when done.
type Store struct {
	w     *sql.DB // the one writer connection; every transaction is BEGIN IMMEDIATE
	r     *sql.DB // the reader pool (query_only)
	q     *writeQueue
	wc    *sql.Conn            // w's one connection, held for the Store's life
	stmts map[string]*sql.Stmt // prepared on wc; used by the batch leader only
	cfg   Config

	ckpt *checkpointer
}

// Open opens (creating it if need be) the database file at path and brings its schema up to date.
// It fails with a [*SchemaTooNewError] when the database was migrated by a newer version of this
// package. Open is safe when several processes open the same file at once: migrations run in
// one BEGIN IMMEDIATE transaction, so they serialize.
func Open(ctx context.Context, path string, cfg *Config) (*Store, error) {
	c := cfg.WithDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("sqlite: open: invalid config: %w", err)
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: want a plain file path (no URI, no :memory:)", path)
	}
	busy := strconv.FormatInt(c.BusyTimeout.Milliseconds(), 10)
	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+busy+")")
	common.Add("_pragma", "foreign_keys(1)")
	writeQ := url.Values{"_txlock": {"immediate"}}
	for _, p := range common["_pragma"] {
		writeQ.Add("_pragma", p)
	}
	writeQ.Add("_pragma", "journal_mode(WAL)")
	writeQ.Add("_pragma", "synchronous(NORMAL)")
	writeQ.Add("_pragma", "wal_autocheckpoint(0)")         // the checkpointer's job (checkpoint.go)
	writeQ.Add("_pragma", "journal_size_limit(134217728)") // a restarted log is cut back to 128 MiB
	w, err := sql.Open("sqlite", path+"?"+writeQ.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, q: newWriteQueue(), cfg: c, stmts: map[string]*sql.Stmt{}}
	if err := s.connectAndMigrate(ctx, path); err != nil {
		w.Close()
		return nil, err
	}
	readQ := url.Values{"_pragma": slices.Clone(common["_pragma"])}
	readQ.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+readQ.Encode())
	if err != nil {
		s.wc.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(c.ReadConns)
	r.SetMaxIdleConns(c.ReadConns)
	r.SetConnMaxIdleTime(0)
	s.r = r
	if s.ckpt, err = startCheckpointer(path+"?"+common.Encode(), c.CheckpointEvery); err != nil {
		r.Close()
		s.wc.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	return s, nil
}

// connectAndMigrate takes the writer connection and brings the schema up to date. When several
// processes open a new file at once, switching it to WAL can fail with SQLITE_BUSY at once,
// without waiting (SQLite refuses to wait where waiting could deadlock), so a busy open is tried
// again with a growing pause, for up to Config.BusyTimeout or until ctx ends.
func (s *Store) connectAndMigrate(ctx context.Context, path string) error {
	deadline := time.Now().Add(s.cfg.BusyTimeout)
	pause := 5 * time.Millisecond
	for {
		err := s.tryConnectAndMigrate(ctx, path)
		if err == nil || !isBusy(err) || time.Now().Add(pause).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return dbErr(ctx, "open "+path, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

func (s *Store) tryConnectAndMigrate(ctx context.Context, path string) error {
	wc, err := s.w.Conn(ctx)
	if err != nil {
		return dbErr(ctx, "open "+path, err)
	}
	s.wc = wc
	if err := s.migrate(ctx); err != nil {
		s.wc.Close()
		s.wc = nil
		return err
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Close closes the database. Writes still queued and calls after Close fail with
// [ports.ErrUnavailable]. Call it once.
func (s *Store) Close() error {
	// Writes still queued wait for the leader token, which Close takes for good.
	s.q.leader <- struct{}{}
	s.q.close()
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, s.ckpt.stop(), s.r.Close(), s.wc.Close(), s.w.Close())
	return errors.Join(errs...)
}

// domainError marks an error fn returned on purpose (a sentinel of ports), so dbErr wraps it
// without reclassifying it.
type domainError struct{ err error }

func (e domainError) Error() string { return e.err.Error() }
func (e domainError) Unwrap() error { return e.err }

// dbErr wraps err with op and maps what it can to the sentinels of ports: a busy or locked
// database, a closed connection or an I/O failure is ports.ErrUnavailable; a canceled or expired
// context stays that context's error.
func dbErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var de domainError
	if errors.As(err, &de) {
		return fmt.Errorf("sqlite: %s: %w", op, de.err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlite: %s: %w (%w)", op, cerr, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL:
			return fmt.Errorf("sqlite: %s: %w: %w", op, ports.ErrUnavailable, err)
		}
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") {
		return fmt.Errorf("sqlite: %s: %w: %w", op, ports.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// ns is t in nanoseconds since the epoch, 0 for the zero time, clamped to the int64 range.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if t.Year() >= 2262 {
		return math.MaxInt64
	}
	if t.Year() < 1678 {
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

// fromNS is the inverse of ns (in UTC).
func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
