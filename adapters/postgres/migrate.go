package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	migs "github.com/cardsaddon/extprod/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migs.Migration, error) {
	return migs.Load(migrationFiles, "migrations")
}

// SchemaVersion is the newest schema version this code knows (the number of its migrations).
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrationLockClass is the first key of the session advisory lock that serializes migrations;
// the second is hashtext of the schema name, so stores in different schemas migrate in parallel.
const migrationLockClass = 0x65787072 // "expr"

// withMigrationLock runs fn while conn holds the migration lock of schema.
func withMigrationLock(ctx context.Context, conn *pgx.Conn, schema string, fn func() error) (err error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, int32(migrationLockClass), schema); err != nil {
		return fmt.Errorf("postgres: take the migration lock: %w", mapErr(err))
	}
	defer func() {
		// A failed unlock leaves the lock to the session, which ends when the caller closes or
		// returns the connection.
		_, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, int32(migrationLockClass), schema)
		if err == nil && uerr != nil {
			err = fmt.Errorf("postgres: release the migration lock: %w", mapErr(uerr))
		}
	}()
	return fn()
}

// migrate applies the pending migrations, each in its own transaction together with its row in
// extprod_migrations, under the migration lock: a second process opening at once waits, then
// finds nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	defer pc.Release()
	conn := pc.Conn()
	err = withMigrationLock(ctx, conn, s.schema, func() error {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS extprod_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("postgres: create extprod_migrations: %w", mapErr(err))
		}
		var current int
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM extprod_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("postgres: read schema version: %w", mapErr(err))
		}
		if current > len(ms) {
			return &SchemaTooNewError{Schema: s.schema, Database: current, Code: len(ms)}
		}
		for _, m := range ms[current:] {
			if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, m.SQL); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO extprod_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
				return err
			}); err != nil {
				return fmt.Errorf("postgres: apply migration %s: %w", m.Name, mapErr(err))
			}
			s.cfg.Logger.InfoContext(ctx, "postgres: migration applied", "schema", s.schema, "migration", m.Name)
		}
		return nil
	})
	return err
}
