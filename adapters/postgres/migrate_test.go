package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/ports"
)

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	is := is.New(t)
	names, err := postgres.Migrations()
	is.NoErr(err)
	is.Equal(len(names), postgres.SchemaVersion())
	is.True(len(names) > 0)
}

// schemaVersions returns the versions recorded in schema's extprod_migrations.
func schemaVersions(t *testing.T, schema string) []int {
	t.Helper()
	conn := adminConn(t, testURL(t))
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version FROM `+schema+`.extprod_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read versions: %v", err)
	}
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func allVersions() []int {
	var out []int
	for v := 1; v <= postgres.SchemaVersion(); v++ {
		out = append(out, v)
	}
	return out
}

func TestMigrateFreshAndReopen(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	s := openStore(t, schema, nil)
	is.Equal(s.Schema(), schema)
	is.Equal(schemaVersions(t, schema), allVersions()) // a fresh database gets every migration

	is.NoErr(s.ReplaceScript(t.Context(), "var options = {};", "v1", ""))
	s.Close()

	s2 := openStore(t, schema, nil)
	is.Equal(schemaVersions(t, schema), allVersions()) // re-opening applies nothing twice
	src, v, err := s2.Script(t.Context())
	is.NoErr(err)
	is.Equal([]string{src, v}, []string{"var options = {};", "v1"}) // the data survived the re-open
}

func TestMigrateTwoOpenersAtOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	url := testURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// Hold the migration lock, so both openers must queue behind it.
	holder := adminConn(t, url)
	defer holder.Close(context.Background())
	_, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, int32(postgres.MigrationLockClass), schema)
	is.NoErr(err)

	var g errgroup.Group
	stores := make([]*postgres.Store, 2)
	for i := range stores {
		g.Go(func() error {
			s, err := postgres.Open(ctx, url, &postgres.Config{Schema: schema})
			stores[i] = s
			return err
		})
	}
	// Both openers are waiting for the lock before it is released.
	watch := adminConn(t, url)
	defer watch.Close(context.Background())
	for waiting := 0; waiting < 2; {
		if err := ctx.Err(); err != nil {
			t.Fatalf("the openers did not queue on the migration lock: %v", err)
		}
		err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid = $1::oid AND objid = hashtext($2)::oid`,
			int64(postgres.MigrationLockClass), schema).Scan(&waiting)
		is.NoErr(err)
	}
	_, err = holder.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, int32(postgres.MigrationLockClass), schema)
	is.NoErr(err)

	is.NoErr(g.Wait()) // both openers succeed
	for _, s := range stores {
		s.Close()
	}
	is.Equal(schemaVersions(t, schema), allVersions()) // each migration applied once
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	s := openStore(t, schema, nil)
	s.Close()

	conn := adminConn(t, testURL(t))
	defer conn.Close(context.Background())
	newer := postgres.SchemaVersion() + 1
	_, err := conn.Exec(t.Context(), `INSERT INTO `+schema+`.extprod_migrations (version, name) VALUES ($1, 'from the future')`, newer)
	is.NoErr(err)

	_, err = postgres.Open(t.Context(), testURL(t), &postgres.Config{Schema: schema})
	is.True(errors.Is(err, postgres.ErrSchemaTooNew)) // a newer database is refused
	var tooNew *postgres.SchemaTooNewError
	is.True(errors.As(err, &tooNew))
	is.Equal(*tooNew, postgres.SchemaTooNewError{Schema: schema, Database: newer, Code: postgres.SchemaVersion()})
}

func TestOpenRejectsBadSchemaName(t *testing.T) {
	is := is.New(t)
	_, err := postgres.Open(t.Context(), "postgres://nobody@127.0.0.1:1/none", &postgres.Config{Schema: `x"; DROP TABLE y; --`})
	is.True(err != nil) // an unsafe schema name is refused before connecting
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	_, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", nil)
	is.True(errors.Is(err, ports.ErrUnavailable)) // a server that cannot be reached is unavailable
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newStore(t)
	s.Close()
	_, err := s.Card(t.Context(), "card-1")
	is.True(err != nil)
	is.True(!errors.Is(err, ports.ErrNotFound)) // a closed store does not pretend the card is missing
}
