package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/adapters/sqlite"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// defaultDataDir is the folder, under the working directory, of the default SQLite store and
// of the in-process fake bureau's orders.
const defaultDataDir = "extprod-data"

// The files in the data folder.
const (
	sqliteFile = "extprod.db"
	fakeFile   = "gocardsfake.json"
)

// storeSpec is a parsed -store.
type storeSpec struct {
	kind string // "memory", "sqlite" or "postgres"
	path string // sqlite: the database file
	dsn  string // postgres: the URL, password included
}

// parseStore parses -store (or $EXTPROD_STORE): empty is SQLite in the default data folder.
// Its errors never quote the value (a URL may carry a password).
func parseStore(s string) (storeSpec, error) {
	switch {
	case s == "":
		return storeSpec{kind: "sqlite", path: filepath.Join(defaultDataDir, sqliteFile)}, nil
	case s == "memory":
		return storeSpec{kind: "memory"}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if p == "" {
			p = filepath.Join(defaultDataDir, sqliteFile)
		}
		return storeSpec{kind: "sqlite", path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return storeSpec{}, errors.New("-store: the postgres:// URL does not parse (want postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
		}
		return storeSpec{kind: "postgres", dsn: s}, nil
	default:
		return storeSpec{}, errors.New("-store: want memory, sqlite:PATH or a postgres:// URL")
	}
}

// String names the store for the log: a URL's password (in its user info or its query) is
// replaced.
func (s storeSpec) String() string {
	switch s.kind {
	case "sqlite":
		return "sqlite:" + s.path
	case "postgres":
		return redactURL(s.dsn)
	}
	return s.kind
}

// redactURL replaces the password of a URL, in its user info and in a password= parameter.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// secretsOf returns the password parts of a URL, to scrub them from an error text.
func secretsOf(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil {
		return []string{dsn}
	}
	var out []string
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	if p := u.Query().Get("password"); p != "" {
		out = append(out, p, url.QueryEscape(p))
	}
	return out
}

// scrubbedError is an error whose text had secrets removed; it still unwraps to the cause.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

func scrub(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &scrubbedError{msg: msg, cause: err}
}

// durable is what the sqlite and postgres stores both are: every durable port in one.
type durable interface {
	ports.Store
	ports.ScriptStore
	ports.IdempotencyStore
	ports.EventDedup
	ports.JobLeases
}

// backend is the opened store with every port the host wires from it.
type backend struct {
	spec    storeSpec
	dataDir string // where the in-process fake bureau keeps its orders; "" keeps them in memory
	store   ports.Store
	scripts ports.ScriptStore
	idem    interface {
		ports.IdempotencyStore
		cardorder.IdempotencyPurger
	}
	dedup interface {
		ports.EventDedup
		cardorder.DedupPurger
	}
	leases ports.JobLeases // nil with memory: one process
	close  func()          // idempotent
}

// openBackend opens the store spec names, creating its folder as needed.
func openBackend(ctx context.Context, spec storeSpec) (*backend, error) {
	b := &backend{spec: spec}
	var d durable
	var closeFn func()
	switch spec.kind {
	case "memory":
		b.store, b.scripts, b.idem, b.dedup = memory.NewStore(), &memory.Scripts{}, &memory.Idempotency{}, &memory.EventDedup{}
		b.close = func() {}
		return b, nil
	case "sqlite":
		b.dataDir = filepath.Dir(spec.path)
		if err := os.MkdirAll(b.dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("-store: %w", err)
		}
		s, err := sqlite.Open(ctx, spec.path, nil)
		if err != nil {
			return nil, fmt.Errorf("-store %s: %w", spec, err)
		}
		d, closeFn = s, func() { _ = s.Close() }
	case "postgres":
		s, err := postgres.Open(ctx, spec.dsn, nil)
		if err != nil {
			return nil, fmt.Errorf("-store %s: %w", spec, scrub(err, secretsOf(spec.dsn)))
		}
		b.dataDir = defaultDataDir
		if err := os.MkdirAll(b.dataDir, 0o700); err != nil {
			s.Close()
			return nil, fmt.Errorf("data folder: %w", err)
		}
		d, closeFn = s, s.Close
	default:
		return nil, fmt.Errorf("-store: unknown kind %q", spec.kind)
	}
	b.store, b.scripts, b.idem, b.dedup, b.leases = d, d, d, d, d
	b.close = sync.OnceFunc(closeFn)
	return b, nil
}

// ping tells whether the store answers: a read of a card that cannot exist must come back
// "not found".
func (b *backend) ping(ctx context.Context) error {
	_, err := b.store.Card(ctx, "readyz-probe")
	if errors.Is(err, ports.ErrNotFound) {
		return nil
	}
	if err == nil {
		return nil
	}
	return err
}
