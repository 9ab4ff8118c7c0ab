package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"
	_ "modernc.org/sqlite"

	"github.com/cardsaddon/extprod/adapters/sqlite"
	"github.com/cardsaddon/extprod/ports"
)

// openTest opens a store on a new file in t's temporary directory and closes it at the end.
func openTest(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "extprod.db")
	}
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

func testCard(id, user string, state ports.CardState) ports.Card {
	return ports.Card{ID: id, UserID: user, State: state, Channel: ports.ChannelOperator, ProductionType: "standard",
		LayoutID: "L-100", OrderedBy: "op", Attempt: 1, QueuedAt: t0, CreatedAt: t0, UpdatedAt: t0,
		Elements: map[string]string{"FIRST_NAME": "Ada"}, Photo: []byte{0xff, 0xd8, 1, 2}}
}

func TestRoundTrip(t *testing.T) {
	is := is.New(t)
	s := openTest(t, "")
	in := testCard("c1", "u1", ports.StateProcessing)
	in.DeliveryAddress = &ports.Address{AddressOne: "Main St 1", PostalCode: "1000", City: "Bern", CountryCode: "CH"}
	in.History = []ports.HistoryEntry{{State: ports.StateProcessing, At: t0, Actor: "op"}}
	out, err := s.Create(t.Context(), ports.Creation{Cards: []ports.Card{in}, Exclusive: true})
	is.NoErr(err)
	is.Equal(out[0].Version, int64(1))
	got, err := s.Card(t.Context(), "c1")
	is.NoErr(err)
	if d := cmp.Diff(out[0], got); d != "" {
		t.Fatalf("card read back (-want +got):\n%s", d)
	}
	_, err = s.Card(t.Context(), "nope")
	is.True(errors.Is(err, ports.ErrNotFound))
}

// TestSchemaMigrations: a fresh database gets the schema, a reopen changes nothing, two
// independent openers (two *sql.DB handles on one new file) at once both succeed, and a
// database newer than the code is refused with a typed error.
func TestSchemaMigrations(t *testing.T) {
	t.Run("FreshAndReopen", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "db")
		s1, err := sqlite.Open(t.Context(), path, nil)
		is.NoErr(err)
		_, err = s1.Create(t.Context(), ports.Creation{Cards: []ports.Card{testCard("c1", "u1", ports.StateOrdered)}})
		is.NoErr(err)
		is.NoErr(s1.Close())
		s2 := openTest(t, path)
		_, err = s2.Card(t.Context(), "c1")
		is.NoErr(err) // the card survived the reopen
		is.Equal(versions(t, path), []int{1, sqlite.SchemaVersion()}[1:])
	})
	t.Run("TwoOpenersAtOnce", func(t *testing.T) {
		is := is.New(t)
		for range 5 {
			path := filepath.Join(t.TempDir(), "db")
			var g errgroup.Group
			stores := make([]*sqlite.Store, 4)
			for i := range stores {
				g.Go(func() error {
					s, err := sqlite.Open(t.Context(), path, nil)
					stores[i] = s
					return err
				})
			}
			is.NoErr(g.Wait())
			for _, s := range stores {
				is.NoErr(s.Close())
			}
			is.Equal(len(versions(t, path)), sqlite.SchemaVersion()) // each migration applied once
		}
	})
	t.Run("NewerThanCode", func(t *testing.T) {
		is := is.New(t)
		path := filepath.Join(t.TempDir(), "db")
		s, err := sqlite.Open(t.Context(), path, nil)
		is.NoErr(err)
		is.NoErr(s.Close())
		db, err := sql.Open("sqlite", path)
		is.NoErr(err)
		_, err = db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (?, 'from_the_future')`, sqlite.SchemaVersion()+1)
		is.NoErr(err)
		is.NoErr(db.Close())
		_, err = sqlite.Open(t.Context(), path, nil)
		var tooNew *sqlite.SchemaTooNewError
		is.True(errors.As(err, &tooNew)) // a typed error
		is.Equal(*tooNew, sqlite.SchemaTooNewError{Database: sqlite.SchemaVersion() + 1, Code: sqlite.SchemaVersion()})
		t.Log(err)
	})
}

func versions(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestExclusiveAcrossHandles races exclusive creations for one user through two stores opened
// on the same file (as two processes would): the database's write lock, not a mutex, lets
// exactly one through.
func TestExclusiveAcrossHandles(t *testing.T) {
	is := is.New(t)
	path := filepath.Join(t.TempDir(), "db")
	a, b := openTest(t, path), openTest(t, path)
	const n = 200
	var won, refused atomic.Int64
	var g errgroup.Group
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		g.Go(func() error {
			_, err := s.Create(t.Context(), ports.Creation{Exclusive: true,
				Cards: []ports.Card{testCard(fmt.Sprintf("c%d", i), "u1", ports.StateProcessing)}})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, ports.ErrOpenOrderExists):
				refused.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	is.NoErr(g.Wait())
	is.Equal(won.Load(), int64(1))
	is.Equal(refused.Load(), int64(n-1))
}

// TestWritersWaitForTheLock proves that writers queue for the one writer connection: while the
// test holds it, every racing Create is seen queued before the test lets them go; then exactly
// one exclusive creation wins, although they share transactions (group commit).
func TestWritersWaitForTheLock(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := openTest(t, "")
	const n = 1000
	release := sqlite.HoldWriter(s)
	var won, refused atomic.Int64
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			_, err := s.Create(ctx, ports.Creation{Exclusive: true,
				Cards: []ports.Card{testCard(fmt.Sprintf("c%d", i), "u1", ports.StateProcessing)}})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, ports.ErrOpenOrderExists):
				refused.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	for sqlite.QueuedWrites(s) < n {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d writers waiting", sqlite.QueuedWrites(s), n)
		}
		runtime.Gosched()
	}
	release()
	is.NoErr(g.Wait())
	is.Equal(won.Load(), int64(1))
	is.Equal(refused.Load(), int64(n-1))
}

// TestGroupCommitIsolatesFailures: writes that share one transaction (queued while the writer
// was busy) succeed or fail each on its own; a write whose context ended while it was queued is
// not applied.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := openTest(t, "")
	_, err := s.Create(ctx, ports.Creation{Cards: []ports.Card{testCard("taken", "u0", ports.StateOrdered)}})
	is.NoErr(err)

	release := sqlite.HoldWriter(s)
	create := func(id string, ctx context.Context) <-chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := s.Create(ctx, ports.Creation{Cards: []ports.Card{testCard(id, "u-"+id, ports.StateOrdered)}})
			ch <- err
		}()
		return ch
	}
	gone, giveUp := context.WithCancel(ctx)
	a, dup, b, abandoned := create("a", ctx), create("taken", ctx), create("b", ctx), create("c", gone)
	for sqlite.QueuedWrites(s) < 4 {
		if ctx.Err() != nil {
			t.Fatalf("only %d writes queued", sqlite.QueuedWrites(s))
		}
		runtime.Gosched()
	}
	giveUp()
	is.True(errors.Is(<-abandoned, context.Canceled)) // the abandoned write returns at once
	release()
	is.NoErr(<-a)
	is.True(<-dup != nil) // the duplicate id fails alone
	is.NoErr(<-b)
	for id, want := range map[string]bool{"a": true, "b": true, "c": false} {
		_, err := s.Card(ctx, id)
		is.Equal(err == nil, want) // stored exactly when its write succeeded
	}
}
