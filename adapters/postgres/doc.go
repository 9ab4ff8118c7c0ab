// Package postgres is the PostgreSQL adapter of every port whose data must survive a restart:
// cards with their queue and outbox ([ports.Store]), the option script ([ports.ScriptStore]),
// the HTTP API's idempotency records ([ports.IdempotencyStore]), the bureau-event dedup
// ([ports.EventDedup]) and the leases of periodic jobs ([ports.JobLeases]). It is the store for
// hosts that run several instances, and several dispatchers and outbox relays, on one database
// (docs/use-case.md §8). It lives in a module of its own so the core module carries no driver.
//
//	store, err := postgres.Open(ctx, "postgres://app@db/cards", &postgres.Config{Schema: "extprod"})
//	if err != nil { … }
//	defer store.Close()
//	svc, err := cardorder.New(cardorder.Ports{…, Cards: store, Queue: store, Outbox: store}, nil)
//
// # Driver: pgxpool
//
// The adapter talks to PostgreSQL through github.com/jackc/pgx/v5's pgxpool, not through its
// database/sql driver. The write path decides it: an order is a card plus its audit event and
// notifications, all in one transaction. With pgx that is one pipelined [pgx.Batch] —
// PostgreSQL runs everything before the batch's single Sync as one implicit transaction — with
// array parameters (unnest) for any number of rows, so a creation costs one round trip, where
// database/sql needs BEGIN, one statement per table and COMMIT (six round trips). pgxpool also
// prepares every statement once per connection and then only binds and executes it, and it
// bulk-loads with COPY. BenchmarkDriver in this package measures the two on the same creation;
// BENCHMARKS.md has the figures.
//
// # The one-open-order rule
//
// The rule is enforced by PostgreSQL, so it holds across processes. The PL/pgSQL function
// extprod_open_order_free (migrations/0001_init.sql) takes a transaction-scoped advisory lock
// per user, keyed by (a hash of the schema, hashtext(user id)), and then — under the lock, with
// a fresh snapshot — looks for an open card of the user. With Creation.Exclusive the creation's
// batch starts with extprod_open_order_guard, which calls it and fails the transaction with a
// SQLSTATE of its own (mapped to [ports.ErrOpenOrderExists]) so that the inserts queued after it
// write nothing; with Change.Exclusive the update statement calls it in a CTE and updates only
// when it answers true. The creations of one card with its audit event (every order) share
// transactions (next section): there extprod_lock_users (migrations/0002_lock_users.sql) takes the
// locks of all their users at once, sorted, and each card's insert checks its own user's open
// cards with a snapshot taken after the locks were granted, inserting nothing when one is open,
// so that a refused order fails alone. The lock is held until the transaction commits, so the
// next exclusive writer for that user — in this process or another — waits for it and then sees
// its card.
// Advisory locks were chosen over a per-user lock row because they write nothing (no row per
// user, no dead tuples), and over a constraint because no index can say "refuse if any open
// card exists, but only for exclusive writes" (the rule mixes orders with and without multiple
// orders allowed). A hash collision between two users only makes them wait for each other.
// Non-exclusive creations take no lock: they never refuse, and an exclusive writer that
// commits before them is ordered before them.
//
// # Shared creation transactions
//
// An order's creation costs little work inside PostgreSQL; its commit (the WAL flush) and its
// round trip cost more, on both sides. So the creations of one card with its audit event — every
// order — that wait at the same moment are written by one pipelined batch and committed
// together, each still with its own outcome (create.go). A quarter of the pool's connections
// (at least one) write them; a creation that finds a writer free is written at once, alone, and
// the ones arriving while every writer is busy go together (up to 32) when the next one is free:
// nothing ever waits for company. When the server refuses such a transaction (a card id already
// stored), nothing of it was committed, and each creation is written again alone, so only the
// faulty one fails. A caller whose context ends while its creation still waits in the queue gets
// the context's error and its creation is dropped; once taken, the creation runs to its end
// (bounded by a minute) even when its caller gave up, as any write already sent would.
// BenchmarkOrderCard measures it; BENCHMARKS.md has the figures.
//
// # Claims
//
// [Store.Claim] is a single UPDATE over a subquery that selects the due processing cards oldest
// queued first with FOR UPDATE SKIP LOCKED, and sets their lease, DispatchStarted and a new
// version in the same statement: two dispatchers never claim the same card while its lease runs,
// and never wait for each other's rows. An abort that read the card before the claim loses its
// compare-and-set on the version. The outbox claims ([Store.ClaimEvents],
// [Store.ClaimNotifications]) work the same way. Every update of a card is a compare-and-set on
// its version (UPDATE … WHERE id = $1 AND version = $2), and its audit event and notifications
// are inserted by the same statement, reading the updated row, so nothing is written when the
// version moved on.
//
// # Schema and migrations
//
// The schema is versioned by the migrations embedded in this package (migrations/NNNN_*.sql),
// recorded in the table extprod_migrations. [Open] applies the pending ones, each in its own
// transaction, while holding a session advisory lock on the schema, so two processes opening
// one database at once serialize and the second finds nothing left to do. A database whose
// version is newer than the code fails Open with a [*SchemaTooNewError]. Every query has its
// index: cards by user, by state, by bureau order id, the open cards of a user, the due queue
// and the creation order (the listing cursor); pending and delivered outbox rows; expiring
// idempotency and dedup records.
//
// # Durability and cursors
//
// PostgreSQL keeps its defaults (synchronous_commit on): a write that returned is on disk. The
// listing cursor is the creation sequence (an identity column). Sequence numbers are handed out
// before commit, so a card whose creation commits after a later-numbered card was already listed
// can be skipped by a listing in progress (not by the next one); the queue and the status sync
// do not depend on listing cursors for correctness.
//
// # Tests
//
// The tests need a server: set EXTPROD_POSTGRES_URL (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). Without it they skip, except under
// CI=true, where they use that URL and fail when no server answers. Each test works in a fresh
// schema of its own and drops it when done, so tests run in parallel and leave nothing behind.
// Some tests start copies of the test binary as child processes on the same schema (two
// processes ordering for one user, two dispatchers, two outbox relays, processes killed with
// SIGKILL).
//
// # Errors
//
// Errors wrap the ports' sentinels: [ports.ErrNotFound], [ports.ErrConflict],
// [ports.ErrOpenOrderExists], and [ports.ErrUnavailable] for lost connections, timeouts, a
// server shutting down, deadlocks and serialization failures (all safe to retry). A cancelled
// context is returned as such.
package postgres
