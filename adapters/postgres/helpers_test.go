package postgres_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardsaddon/extprod/adapters/postgres"
)

// envURL names the database the tests use; every test works in a schema of its own.
const envURL = "EXTPROD_POSTGRES_URL"

// ciDefaultURL is the server CI starts (.ci/run) when the variable is not set.
const ciDefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testURL returns the database URL, or skips the test when none is configured. Under CI
// (CI=true) the tests never skip: without the variable they use ciDefaultURL, and an unreachable
// server fails them.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv("CI") != "true" {
			t.Skip("set EXTPROD_POSTGRES_URL=postgres://… to run the PostgreSQL tests")
		}
		url = ciDefaultURL
	}
	return url
}

// adminConn opens a plain connection for setting up and cleaning up schemas; it fails the test
// when the server cannot be reached.
func adminConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s (set %s): %v", redact(url), envURL, err)
	}
	return conn
}

// redact drops the password from a URL for messages.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if i := strings.Index(url, "://"); i > 0 && i < at {
			user := url[i+3 : at]
			if c := strings.Index(user, ":"); c >= 0 {
				return url[:i+3] + user[:c] + ":***" + url[at:]
			}
		}
	}
	return url
}

// newSchema returns the name of a fresh schema that is dropped (with everything in it) when the
// test ends. Open creates it.
func newSchema(t testing.TB) string {
	t.Helper()
	url := testURL(t)
	name := "t_" + strings.ToLower(rand.Text()[:16])
	t.Cleanup(func() {
		conn := adminConn(t, url)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openStore opens a store in schema and closes it when the test ends.
func openStore(t testing.TB, schema string, cfg *postgres.Config) *postgres.Store {
	t.Helper()
	if cfg == nil {
		cfg = &postgres.Config{}
	}
	cfg.Schema = schema
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The connections carry the schema's name, so that benchmarks can tell their backends.
	url := testURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := postgres.Open(ctx, url+sep+"application_name="+schema, cfg)
	if err != nil {
		t.Fatalf("Open(schema %s): %v", schema, err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore returns a store in a fresh schema of its own.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	return openStore(t, newSchema(t), nil)
}
