// Package sqlite keeps every durable port of extprod in one SQLite database file: the cards with
// their queue and outbox ([ports.Store]), the option script ([ports.ScriptStore]), the HTTP API's
// idempotency records ([ports.IdempotencyStore]), the bureau-event dedup ([ports.EventDedup])
// and the job leases ([ports.JobLeases]). Use it when one host process (or a few on one machine)
// is enough; the PostgreSQL adapter serves several hosts sharing the work.
//
//	store, err := sqlite.Open(ctx, "/var/lib/myhost/extprod.db", nil)
//	if err != nil { … }
//	defer store.Close()
//	svc, err := cardorder.New(cardorder.Ports{Store: store, Leases: store, Idempotency: store, Dedup: store, …}, nil)
//
// # Why this driver
//
// [modernc.org/sqlite] is SQLite translated to Go: no cgo, so hosts cross-compile and build
// static binaries as with the rest of the library, at the price of some speed against the C
// library (see BENCHMARKS.md in the repository for what it achieves here).
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL: a commit is in the write-ahead log
// before the call returns, so a process that is killed (SIGKILL, a crash, an OOM kill) loses
// nothing it was told was stored — the crash test in this package kills processes that order,
// dispatch and mail cards twenty times and checks that every card is ordered exactly once and
// every "card ordered" mail sent at least once (docs/use-case.md §8). Only a power loss or an
// operating-system crash can take the last commits, which were in the log but not yet synced
// to disk. A background connection checkpoints the log into the database file; writers never
// wait for it.
//
// # One writer, and what it guarantees
//
// SQLite lets one connection write at a time, across every process that opens the file. The
// Store holds one writer connection for its life, plus a pool of read-only (query_only)
// connections for Card, List and the statistics. Every write is a BEGIN IMMEDIATE transaction,
// which takes the database's write lock before it reads anything: whatever a write reads, no
// other connection or process changes until it commits. Writers of other processes wait for the
// lock up to Config.BusyTimeout and then fail with [ports.ErrUnavailable].
//
// So the one-open-order rule (Creation.Exclusive, Change.Exclusive) is a read of the user's
// open cards (index cards_user) followed by the insert or update in the same immediate
// transaction; no second writer can slip in between, in this process or another. A claim of
// queued cards (Queue.Claim) reads the due processing cards oldest first (partial index
// cards_queue) and leases them in one immediate transaction, so two dispatchers never hold the
// same card; the outbox claims do the same with one UPDATE … RETURNING. Every card update is a
// compare-and-set: the stored version is read and checked under the lock, and the UPDATE names
// it again.
//
// Writes of one process are committed in groups: while one transaction runs, the writes that
// arrive queue, and the next transaction carries all of them, each under a SAVEPOINT of its
// own, so one failing write (a lost compare-and-set, an open order) undoes only itself. A
// caller learns that its write is stored only after the transaction that carries it commits.
// Statements of the writer are prepared once. A write whose context ends while it is queued
// is dropped; once started it runs to its end (it is short), because interrupting a statement
// would roll back the whole transaction, the writes of other callers included.
//
// # Schema
//
// Cards are rows whose queried fields are columns (user, state, open, bureau order id, queue
// times, lease, version) with the rest of the card as JSON and the photo as a blob; every
// query the domain and the HTTP listing make has an index (by id, by user, by state, by bureau
// order id, the queue, the creation order that is the List cursor), so costs stay flat as the
// table grows. The schema is versioned: migrations are embedded (migrations/NNNN_name.sql) and
// applied by Open in one BEGIN IMMEDIATE transaction, recorded in the table schema_migrations,
// so two processes opening a new database at once apply each migration once. A database whose
// schema is newer than this code is refused with a [*SchemaTooNewError], changing nothing.
//
// Technical rows expire and are removed in bounded batches by the clean-up of
// [github.com/cardsaddon/extprod/cardorder.Service.CleanUp]: delivered outbox entries
// (PurgeDelivered), idempotency records (PurgeIdempotency) and dedup entries (PurgeEvents).
package sqlite
