-- 0001: cards with their queue, the outbox, the option script, idempotency records, bureau-event
-- dedup and job leases. Times are INTEGER nanoseconds since the Unix epoch (0 for the zero time).

-- cards: the queried fields as columns, the whole card as JSON in data (the photo, which the
-- JSON leaves out, in photo). seq (the rowid) is the creation order and the List cursor.
CREATE TABLE cards (
	seq               INTEGER PRIMARY KEY,
	id                TEXT    NOT NULL UNIQUE,
	user_id           TEXT,               -- NULL for temporary cards
	state             TEXT    NOT NULL,
	open              INTEGER NOT NULL,   -- 1 when state is an open order (docs/use-case.md §3)
	provider_order_id TEXT,
	version           INTEGER NOT NULL,
	queued_at         INTEGER NOT NULL,
	due_at            INTEGER NOT NULL,   -- max(NotBefore, LeaseUntil): claimable from then on
	lease_until       INTEGER NOT NULL,   -- Card.LeaseUntil; a claim writes it here, not in data
	dispatch_started  INTEGER NOT NULL,   -- Card.DispatchStarted; likewise
	data              BLOB    NOT NULL,   -- the card as JSON; version, lease_until and
	                                      -- dispatch_started above override its fields
	photo             BLOB
) STRICT;
-- Listing one user's cards in creation order, and the one-open-order rule (does this user have
-- an open card? A user has few cards, so the rule reads them rather than keep an index of its
-- own that every state change would write).
CREATE INDEX cards_user ON cards (user_id, seq) WHERE user_id IS NOT NULL;
-- Listing by state in creation order (the status sync pages through ordered/in_production).
CREATE INDEX cards_state ON cards (state, seq);
-- Status lookups by bureau order id.
CREATE INDEX cards_provider_order ON cards (provider_order_id) WHERE provider_order_id IS NOT NULL;
-- The queue: processing cards, oldest QueuedAt first (then creation), with when each is due;
-- Claim and Stats name it (INDEXED BY), so the planner never sorts the queue.
CREATE INDEX cards_queue ON cards (queued_at, seq, due_at) WHERE state = 'processing';

-- The outbox: audit events and notifications, written in the transaction of their state change.
CREATE TABLE outbox_events (
	seq          INTEGER PRIMARY KEY,
	id           TEXT    NOT NULL,
	at           INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	delivered_at INTEGER,                 -- NULL while pending
	data         BLOB    NOT NULL
) STRICT;
CREATE INDEX outbox_events_pending ON outbox_events (at) WHERE delivered_at IS NULL; -- (at, seq) order
-- EventsDelivered finds pending events by id: a partial index stays as small as the backlog.
CREATE INDEX outbox_events_id ON outbox_events (id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_events_delivered ON outbox_events (delivered_at) WHERE delivered_at IS NOT NULL;

CREATE TABLE outbox_notifications (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	not_before  INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER NOT NULL DEFAULT 0,
	tries       INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	sent_at     INTEGER,                  -- NULL while unsent
	data        BLOB    NOT NULL
) STRICT;
CREATE INDEX outbox_notifications_pending ON outbox_notifications (at) WHERE sent_at IS NULL;
CREATE INDEX outbox_notifications_id ON outbox_notifications (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_notifications_sent ON outbox_notifications (sent_at) WHERE sent_at IS NOT NULL;

-- The installed option script: at most one row.
CREATE TABLE option_script (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	source  TEXT NOT NULL,
	version TEXT NOT NULL
) STRICT;

-- Idempotency records of the HTTP API: reserve-then-complete, expiring.
CREATE TABLE idempotency (
	key         TEXT    PRIMARY KEY,
	fingerprint TEXT    NOT NULL,
	token       TEXT    NOT NULL,
	done        INTEGER NOT NULL,
	body        BLOB,
	expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_expires ON idempotency (expires_at);

-- Bureau status events applied (done = 1) or being applied (done = 0).
CREATE TABLE event_dedup (
	id         TEXT    PRIMARY KEY,
	done       INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX event_dedup_expires ON event_dedup (expires_at);

-- Leases of periodic jobs.
CREATE TABLE job_leases (
	job    TEXT    PRIMARY KEY,
	holder TEXT    NOT NULL,
	until  INTEGER NOT NULL
) STRICT;
