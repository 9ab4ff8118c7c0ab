package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/logbuf"
	"github.com/cardsaddon/extprod/ports"
)

// TestMain fails the run when a test left the default data folder in the source tree: the
// host's tests use -store memory or a temporary folder.
func TestMain(m *testing.M) {
	_, before := os.Stat(defaultDataDir)
	code := m.Run()
	if _, after := os.Stat(defaultDataDir); before != nil && after == nil {
		fmt.Fprintln(os.Stderr, "a test created", defaultDataDir, "in the source tree")
		os.RemoveAll(defaultDataDir)
		code = 1
	}
	os.Exit(code)
}

// watchLog is the host's log for a test: it keeps everything and lets a test wait for a line.
type watchLog struct {
	logbuf.Buffer
	mu      sync.Mutex
	changed chan struct{}
}

func (l *watchLog) Write(p []byte) (int, error) {
	n, err := l.Buffer.Write(p)
	l.mu.Lock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	l.mu.Unlock()
	return n, err
}

// waitFor waits until the log holds every one of parts on one line, or the test's deadline.
func (l *watchLog) waitFor(t *testing.T, parts ...string) {
	t.Helper()
	for {
		l.mu.Lock()
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		for line := range strings.SplitSeq(l.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatalf("no log line with %q in:\n%s", parts, l.String())
		}
	}
}

// passes returns an afterPass hook and the channel it reports to (dropping reports nobody waits
// for).
func passes() (func(cardorder.DispatchResult, error), chan struct{}) {
	ch := make(chan struct{}, 1)
	return func(cardorder.DispatchResult, error) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// waitState reads the card after every dispatch pass until it is in state want.
func (s *started) waitState(id string, want ports.CardState, passed <-chan struct{}) httpapi.Card {
	s.t.Helper()
	var c httpapi.Card
	for {
		s.call("GET", "/v1/cards/"+id, op, "").want(s.t, 200, &c)
		if c.State == want {
			return c
		}
		select {
		case <-passed:
		case <-s.t.Context().Done():
			s.t.Fatalf("card %s still %s, want %s", id, c.State, want)
		}
	}
}

// TestRestartKeepsEverything: a host on a SQLite store is stopped with a queued card and a
// script installed through the API; started again with the dispatcher, it orders the card once
// at the bureau, sends the "card ordered" mail, keeps the script (-script is ignored now) — and
// a third start still finds the order at the demo bureau, which keeps its orders beside the store.
func TestRestartKeepsEverything(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	store := "sqlite:" + filepath.Join(dir, "data", "host.db")

	// First start: queueing on (the demo script), no dispatcher.
	s, stop := startStoppable(t, hooks{}, "-store", store, "-dispatch-interval", "0")
	is.True(strings.Contains(s.logs.String(), "store="+store))
	var c httpapi.Card
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201, &c)
	is.Equal(c.State, ports.StateProcessing)
	r := s.call("GET", "/v1/admin/options-script", admin, "")
	r.want(t, 200)
	ours := strings.Replace(string(r.body), `label: "Standard card"`, `label: "Standard card (restart test)"`, 1)
	is.True(ours != string(r.body))
	r = s.call("PUT", "/v1/admin/options-script", admin, ours, "If-Match", r.header.Get("ETag"))
	r.want(t, 204)
	etag := r.header.Get("ETag")
	is.Equal(len(s.h.fake.Orders()), 0)
	is.NoErr(stop())
	_, err := os.Stat(filepath.Join(dir, "data", fakeFile))
	is.NoErr(err) // the demo bureau's file sits beside the store

	// Second start: the dispatcher orders the queued card; -script is ignored now.
	other := filepath.Join(dir, "other.js")
	is.NoErr(os.WriteFile(other, []byte(strings.Replace(demoScript, "enabled: true", "enabled: false", 1)), 0o600))
	afterPass, passed := passes()
	s, stop = startStoppable(t, hooks{afterPass: afterPass}, "-store", store, "-dispatch-interval", "10ms", "-script", other)
	c = s.waitState(c.ID, ports.StateOrdered, passed)
	s.logs.waitFor(t, "msg=email", "kind=card_ordered", "card="+c.ID)
	is.True(strings.Contains(s.logs.String(), "-script ignored"))
	r = s.call("GET", "/v1/admin/options-script", admin, "")
	r.want(t, 200)
	is.Equal(string(r.body), ours)
	is.Equal(r.header.Get("ETag"), etag)
	atBureau := 0
	for _, o := range s.h.fake.Orders() {
		if o.ExternalReference == c.ID {
			atBureau++
		}
	}
	is.Equal(atBureau, 1)
	is.Equal(s.h.fake.Stats().Duplicates, 0)
	is.NoErr(stop())

	// Third start: the demo bureau still knows the order, so a refresh finds it.
	s, stop = startStoppable(t, hooks{}, "-store", store, "-dispatch-interval", "0")
	defer func() { is.NoErr(stop()) }()
	o, ok := s.h.fake.Order(c.ProviderOrderID)
	is.True(ok)
	is.Equal(o.ExternalReference, c.ID)
	s.call("POST", "/v1/cards/"+c.ID+"/refresh", op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateOrdered)
	// A new order gets a new bureau order id, not one the bureau already gave.
	var c2 httpapi.Card
	s.call("POST", "/v1/users/u2/card-orders", op, "").want(t, 201, &c2)
	var d struct{ Ordered int }
	s.call("POST", "/v1/dispatch", admin, "").want(t, 200, &d)
	is.Equal(d.Ordered, 1)
	s.call("GET", "/v1/cards/"+c2.ID, op, "").want(t, 200, &c2)
	is.True(c2.ProviderOrderID != c.ProviderOrderID)
	is.Equal(len(s.h.fake.Orders()), 2)
}

// TestShutdownFinishesDispatch: the host is told to stop while the dispatcher waits for the
// bureau's answer to an order. The background jobs are cancelled before the bureau answers;
// the card still ends ordered (once), and the "card ordered" mail the stop left pending goes
// out at the next start.
func TestShutdownFinishesDispatch(t *testing.T) {
	is := is.New(t)
	store := "sqlite:" + filepath.Join(t.TempDir(), "host.db")
	entered, release, cancelled := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	hk := hooks{
		wrapBureau: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/api/orders" {
					once.Do(func() { close(entered) })
					<-release
				}
				next.ServeHTTP(w, r)
			})
		},
		jobsStopping: func() { close(cancelled) },
	}
	s, stop := startStoppable(t, hk, "-store", store, "-dispatch-interval", "10ms")
	var c httpapi.Card
	s.call("POST", "/v1/users/u2/card-orders", op, "").want(t, 201, &c)
	<-entered // a dispatch pass waits for the bureau
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	<-cancelled // the jobs' context is cancelled with the order in flight
	close(release)
	is.NoErr(<-stopped)

	s, stop = startStoppable(t, hooks{}, "-store", store, "-dispatch-interval", "0")
	defer func() { is.NoErr(stop()) }()
	s.call("GET", "/v1/cards/"+c.ID, op, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateOrdered)
	is.Equal(len(s.h.fake.Orders()), 1)
	s.logs.waitFor(t, "msg=email", "kind=card_ordered", "card="+c.ID)
}

// TestPostgresStore: the same restart on PostgreSQL (EXTPROD_POSTGRES_URL), in a schema of its
// own; the demo bureau keeps its orders in extprod-data/ under the working directory.
func TestPostgresStore(t *testing.T) {
	url := os.Getenv("EXTPROD_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs EXTPROD_POSTGRES_URL")
		}
		t.Skip("EXTPROD_POSTGRES_URL is not set")
	}
	is := is.New(t)
	t.Chdir(t.TempDir())
	ctx := t.Context()
	schema := fmt.Sprintf("httphost_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, url)
	is.NoErr(err)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	is.NoErr(err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	store := url + sep + "search_path=" + schema

	s, stop := startStoppable(t, hooks{}, "-store", store, "-dispatch-interval", "0")
	is.True(strings.Contains(s.logs.String(), `store="postgres://`))
	var c httpapi.Card
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201, &c)
	r := s.call("GET", "/v1/admin/options-script", admin, "")
	ours := strings.Replace(string(r.body), `label: "Standard card"`, `label: "Standard card (pg)"`, 1)
	s.call("PUT", "/v1/admin/options-script", admin, ours, "If-Match", r.header.Get("ETag")).want(t, 204)
	is.NoErr(stop())

	afterPass, passed := passes()
	s, stop = startStoppable(t, hooks{afterPass: afterPass}, "-store", store, "-dispatch-interval", "10ms")
	defer func() { is.NoErr(stop()) }()
	c = s.waitState(c.ID, ports.StateOrdered, passed)
	s.logs.waitFor(t, "msg=email", "kind=card_ordered", "card="+c.ID)
	r = s.call("GET", "/v1/admin/options-script", admin, "")
	is.Equal(string(r.body), ours)
	_, err = os.Stat(filepath.Join(defaultDataDir, fakeFile))
	is.NoErr(err)
}
