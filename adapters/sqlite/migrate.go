package sqlite

import (
	"context"
	"embed"
	"fmt"

	migs "github.com/cardsaddon/extprod/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migs.Migration, error) {
	return migs.Load(migrationFS, "migrations")
}

// SchemaVersion is the schema version this package writes and reads: the number of its last
// migration.
func SchemaVersion() int {
	m, err := migrations()
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].Version
}

// SchemaTooNewError: the database was migrated by a newer version of this package than the one
// running. Nothing was changed; run the newer version (or restore a matching backup).
type SchemaTooNewError struct {
	Database int // the schema version found in the database
	Code     int // the newest schema version this code knows
}

// Error says both versions.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this code's %d: upgrade the program before opening this database", e.Database, e.Code)
}

// migrate applies the missing migrations in one BEGIN IMMEDIATE transaction, so two processes
// opening one new database at once serialize: the second sees the first one's work.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	return s.write(ctx, "migrate", func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))) STRICT`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if latest := ms[len(ms)-1].Version; have > latest {
			return domainError{&SchemaTooNewError{Database: have, Code: latest}}
		}
		for _, m := range ms[have:] {
			if err := tx.execScript(m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
}
