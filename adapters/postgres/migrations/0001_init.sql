-- extprod schema version 1: cards (with their queue), the outbox, the option script, idempotency
-- records, bureau-event dedup and job leases. Every query of the adapter has an index below, so
-- costs stay flat as the tables grow (docs/use-case.md §8).

-- Cards. seq is the creation order and the List cursor; the columns beside data are the ones
-- queries filter on, copied from the card on every write; version is the compare-and-set token
-- (the card's Version is read from it). data holds the card as JSON (type json: stored as
-- written, no parsing into jsonb on every write; cast it to jsonb to query it), photo the photo.
CREATE TABLE extprod_cards (
    seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                text        NOT NULL UNIQUE,
    user_id           text,                     -- NULL for temporary cards
    state             text        NOT NULL,
    version           bigint      NOT NULL,
    queued_at         timestamptz,
    not_before        timestamptz,
    lease_until       timestamptz,
    dispatch_started  boolean     NOT NULL DEFAULT false,
    provider_order_id text,
    data              json        NOT NULL,
    photo             bytea
);

-- Listing by user (the HTTP listing, the open-order pre-check), in cursor order.
CREATE INDEX extprod_cards_by_user ON extprod_cards (user_id, seq);
-- Listing by state (status sync pages through ordered and in_production cards).
CREATE INDEX extprod_cards_by_state ON extprod_cards (state, seq);
-- The one-open-order rule: a user's open cards.
CREATE INDEX extprod_cards_open ON extprod_cards (user_id)
    WHERE state IN ('requested', 'processing', 'ordered', 'in_production');
-- The queue: processing cards, oldest queued first.
CREATE INDEX extprod_cards_queue ON extprod_cards (queued_at, seq) WHERE state = 'processing';
-- Bureau order id lookups (status events and support queries by the bureau's order number).
CREATE INDEX extprod_cards_by_provider_order ON extprod_cards (provider_order_id)
    WHERE provider_order_id IS NOT NULL;

-- extprod_open_order_free implements the one-open-order rule. It takes the per-user lock of
-- each of uids (in sorted order, so two writers cannot deadlock) and answers whether none of
-- them has an open card other than except_id. The locks are transaction advisory locks, held
-- until the caller's transaction ends. The check runs after the locks are granted, with a
-- fresh snapshot (a VOLATILE PL/pgSQL function takes one per statement under READ COMMITTED),
-- so it sees every card committed by the previous holder, even when the function is called
-- from the same statement that then inserts or updates the card.
CREATE FUNCTION extprod_open_order_free(lock_class integer, uids text[], except_id text)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    uid text;
BEGIN
    FOR uid IN SELECT DISTINCT u FROM unnest(uids) AS u ORDER BY u LOOP
        PERFORM pg_advisory_xact_lock(lock_class, hashtext(uid));
    END LOOP;
    RETURN NOT EXISTS (
        SELECT 1 FROM extprod_cards
        WHERE user_id = ANY (uids)
          AND state IN ('requested', 'processing', 'ordered', 'in_production')
          AND id IS DISTINCT FROM except_id);
END
$$;

-- extprod_open_order_guard is extprod_open_order_free for a pipelined transaction: it fails the
-- transaction with SQLSTATE EXO01 when a user has an open card, so that the statements queued
-- after it write nothing.
CREATE FUNCTION extprod_open_order_guard(lock_class integer, uids text[], except_id text)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT extprod_open_order_free(lock_class, uids, except_id) THEN
        RAISE EXCEPTION 'user has an open card order' USING ERRCODE = 'EXO01';
    END IF;
END
$$;

-- Audit events waiting for delivery (and delivered ones until the retention purges them).
CREATE TABLE extprod_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text        NOT NULL UNIQUE,
    at           timestamptz NOT NULL,
    data         json        NOT NULL,
    lease_until  timestamptz,
    delivered_at timestamptz
);
CREATE INDEX extprod_events_pending ON extprod_events (at, seq) WHERE delivered_at IS NULL;
CREATE INDEX extprod_events_delivered ON extprod_events (delivered_at) WHERE delivered_at IS NOT NULL;

-- Notifications waiting to be sent (and sent ones until the retention purges them).
CREATE TABLE extprod_notifications (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text        NOT NULL UNIQUE,
    at          timestamptz NOT NULL,
    data        json        NOT NULL,
    tries       integer     NOT NULL DEFAULT 0,
    last_error  text        NOT NULL DEFAULT '',
    not_before  timestamptz,
    lease_until timestamptz,
    sent_at     timestamptz
);
CREATE INDEX extprod_notifications_pending ON extprod_notifications (at, seq) WHERE sent_at IS NULL;
CREATE INDEX extprod_notifications_sent ON extprod_notifications (sent_at) WHERE sent_at IS NOT NULL;

-- The installed option script: at most one row.
CREATE TABLE extprod_script (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    source  text NOT NULL,
    version text NOT NULL
);

-- Idempotency records of the HTTP API (reserve-then-complete, expiring).
CREATE TABLE extprod_idempotency (
    key         text PRIMARY KEY,
    fingerprint text        NOT NULL,
    token       text        NOT NULL,
    done        boolean     NOT NULL DEFAULT false,
    body        bytea,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX extprod_idempotency_expiry ON extprod_idempotency (expires_at);

-- Bureau status events applied (done) or being applied (held), until expires_at.
CREATE TABLE extprod_event_dedup (
    id         text PRIMARY KEY,
    done       boolean     NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX extprod_event_dedup_expiry ON extprod_event_dedup (expires_at);

-- Leases of periodic jobs (status sync, clean-up) among the instances of a host.
CREATE TABLE extprod_job_leases (
    job        text PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
