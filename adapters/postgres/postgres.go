package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardsaddon/extprod/ports"
)

// Compile-time checks: *Store implements every durable port.
var (
	_ ports.Store            = (*Store)(nil)
	_ ports.CardStore        = (*Store)(nil)
	_ ports.Queue            = (*Store)(nil)
	_ ports.Outbox           = (*Store)(nil)
	_ ports.ScriptStore      = (*Store)(nil)
	_ ports.IdempotencyStore = (*Store)(nil)
	_ ports.EventDedup       = (*Store)(nil)
	_ ports.JobLeases        = (*Store)(nil)
)

// DefaultMaxPage is the largest page [Store.List] returns when [Config.MaxPage] is zero.
const DefaultMaxPage = 1000

// Config configures [Open]. The zero value (or a nil *Config) is valid: every field documents its
// default.
type Config struct {
	// Schema is the PostgreSQL schema that holds the tables. Open creates it when missing and
	// sets it as the search_path of every connection of the pool. Empty: the tables go into the
	// connection's current schema (usually public, or what the DSN's search_path names).
	Schema string
	// MaxConns caps the pool. Zero: pgxpool's default (the greater of 4 and the number of CPUs),
	// or pool_max_conns when the DSN names it. A quarter of them (at least one) write the
	// creations of one card with its audit event (every order), which share transactions when
	// they arrive together (Store.Create); the others serve every other read and write.
	MaxConns int32
	// MaxPage caps the page size of [Store.List]. Zero: [DefaultMaxPage].
	MaxPage int
	// Logger receives the adapter's few log lines (migrations applied). Nil: discard.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c (nil allowed) with zero fields set to their defaults.
func (c *Config) WithDefaults() *Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.MaxPage <= 0 {
		out.MaxPage = DefaultMaxPage
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return &out
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (c *Config) validate() error {
	if c.Schema != "" && !schemaName.MatchString(c.Schema) {
		return fmt.Errorf("postgres: schema %q: want lower-case letters, digits and underscores, at most 63", c.Schema)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres: MaxConns %d is negative", c.MaxConns)
	}
	return nil
}

// Store is the PostgreSQL adapter of every durable port. It is safe for concurrent use, and any
// number of Stores — in one process or many — may share one database and schema. Close it when
// done.
type Store struct {
	pool      *pgxpool.Pool
	cfg       *Config
	schema    string  // the schema the tables live in, as resolved at Open
	lockClass int32   // first key of this schema's per-user advisory locks
	groups    *groups // one-card creations waiting for a shared transaction (create.go)
}

// Open connects to the database named by dsn (a postgres:// URL or a key=value string), applies
// the pending migrations and returns the store. Two processes opening one database at once
// serialize on an advisory lock; a database migrated by a newer release fails with a
// [*SchemaTooNewError].
func Open(ctx context.Context, dsn string, cfg *Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.Schema != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
		if err := createSchema(ctx, pcfg.ConnConfig.Copy(), cfg.Schema); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", mapErr(err))
	}
	// A quarter of the connections write shared creation transactions, so the other writes and
	// the reads find connections free.
	s := &Store{pool: pool, cfg: cfg, groups: newGroups(int(pcfg.MaxConns) / 4)}
	if err := s.pool.QueryRow(ctx, `SELECT current_schema(), hashtext('extprod.cards:' || current_schema())`).Scan(&s.schema, &s.lockClass); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read current schema: %w", mapErr(err))
	}
	if s.schema == "" {
		pool.Close()
		return nil, errors.New("postgres: the connection has no current schema (search_path names no existing schema)")
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// createSchema creates the configured schema if it is missing, under the migration lock of that
// schema so that two processes opening at once do not race on the catalog.
func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	delete(cc.RuntimeParams, "search_path")
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", mapErr(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return withMigrationLock(ctx, conn, schema, func() error {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: create schema %s: %w", schema, mapErr(err))
		}
		return nil
	})
}

// Close closes the pool. Calls after Close fail.
func (s *Store) Close() { s.pool.Close() }

// Schema returns the schema the store's tables live in.
func (s *Store) Schema() string { return s.schema }

// ErrSchemaTooNew matches every [*SchemaTooNewError].
var ErrSchemaTooNew = errors.New("postgres: the database schema is newer than this code")

// SchemaTooNewError is returned by [Open] when the database was migrated by a newer release of
// the adapter: this code does not know its schema and refuses to touch it.
type SchemaTooNewError struct {
	Schema   string // the PostgreSQL schema
	Database int    // the schema version the database is at
	Code     int    // the newest schema version this code knows
}

// Error says which versions disagree.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("postgres: schema %q is at version %d, newer than version %d of this code; upgrade the library", e.Schema, e.Database, e.Code)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true for every *SchemaTooNewError.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// sqlstateOpenOrder is the SQLSTATE extprod_open_order_guard raises (migrations/0001_init.sql).
const sqlstateOpenOrder = "EXO01"

// mapErr maps a driver error to the ports' sentinels, keeping the original in the chain:
// connection failures, timeouts and server shutdowns are ports.ErrUnavailable, deadlocks and
// serialization failures (safe to retry) too, the open-order guard is ports.ErrOpenOrderExists.
// A cancelled context stays a cancelled context.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == sqlstateOpenOrder:
			return fmt.Errorf("%w (%w)", ports.ErrOpenOrderExists, err)
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "57"),
			pgErr.Code == "40001", pgErr.Code == "40P01":
			return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.As(err, &netErr) ||
		errors.As(err, &connErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	}
	return err
}
