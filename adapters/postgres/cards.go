package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cardsaddon/extprod/ports"
)

// ts turns a time into a nullable timestamptz: the zero time is NULL.
func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// text turns a string into nullable text: the empty string is NULL.
func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// encodeCard renders the card for the data column. Photo is not part of it (json:"-"); Version
// is overlaid from its column when the card is read.
func encodeCard(c *ports.Card) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode card %s: %w", c.ID, err)
	}
	return b, nil
}

// decodeCard rebuilds a card from its data, version and photo columns.
func decodeCard(data []byte, version int64, photo []byte) (ports.Card, error) {
	var c ports.Card
	if err := json.Unmarshal(data, &c); err != nil {
		return ports.Card{}, fmt.Errorf("decode card: %w", err)
	}
	c.Version = version
	c.Photo = photo
	return c, nil
}

const insertCardsSQL = `
INSERT INTO extprod_cards (id, user_id, state, version, queued_at, not_before, lease_until,
                           dispatch_started, provider_order_id, data, photo)
SELECT id, user_id, state, 1, queued_at, not_before, lease_until, dispatch_started, provider_order_id, data, photo
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
            $7::boolean[], $8::text[], $9::json[], $10::bytea[])
     WITH ORDINALITY AS t(id, user_id, state, queued_at, not_before, lease_until, dispatch_started,
                          provider_order_id, data, photo, ord)
ORDER BY ord`

const insertEventsSQL = `
INSERT INTO extprod_events (id, at, data)
SELECT id, at, data FROM unnest($1::text[], $2::timestamptz[], $3::json[]) WITH ORDINALITY AS t(id, at, data, ord)
ORDER BY ord
ON CONFLICT (id) DO NOTHING`

const insertNotificationsSQL = `
INSERT INTO extprod_notifications (id, at, not_before, tries, last_error, data)
SELECT id, at, not_before, tries, last_error, data
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::integer[], $5::text[], $6::json[])
     WITH ORDINALITY AS t(id, at, not_before, tries, last_error, data, ord)
ORDER BY ord
ON CONFLICT (id) DO NOTHING`

// The statements of one event or one notification (the common case), which spare the server
// the array parameters, unnest and the sort of the statements above.
const (
	insertEventSQL     = `INSERT INTO extprod_events (id, at, data) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`
	insertNotification = `
INSERT INTO extprod_notifications (id, at, not_before, tries, last_error, data)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`
)

// guardSQL takes the locks of the one-open-order rule and fails the transaction with SQLSTATE
// EXO01 when one of the users has an open card (migrations/0001_init.sql).
const guardSQL = `SELECT extprod_open_order_guard($1, $2, NULL)`

// eventRows holds the columns of audit events for createSQL and insertEventsSQL.
type eventRows struct {
	ids  []string
	ats  []time.Time
	data [][]byte
}

func (r *eventRows) add(e *ports.AuditEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit event %s: %w", e.ID, err)
	}
	r.ids, r.ats, r.data = append(r.ids, e.ID), append(r.ats, e.At), append(r.data, b)
	return nil
}

func (r *eventRows) queue(b *pgx.Batch) {
	switch len(r.ids) {
	case 0:
	case 1:
		b.Queue(insertEventSQL, r.ids[0], r.ats[0], r.data[0])
	default:
		b.Queue(insertEventsSQL, r.ids, r.ats, r.data)
	}
}

// notificationRows holds the columns of notifications for createSQL and updateSQL.
type notificationRows struct {
	ids        []string
	ats        []time.Time
	notBefore  []pgtype.Timestamptz
	tries      []int32
	lastErrors []string
	data       [][]byte
}

// notificationData is what the data column of a notification holds: everything but the delivery
// bookkeeping, which has columns of its own.
type notificationData struct {
	Kind   ports.NotificationKind `json:"kind"`
	To     ports.Recipient        `json:"to"`
	CardID string                 `json:"cardId"`
	Reason string                 `json:"reason,omitempty"`
	At     time.Time              `json:"at"`
}

func (r *notificationRows) add(n *ports.Notification) error {
	b, err := json.Marshal(notificationData{Kind: n.Kind, To: n.To, CardID: n.CardID, Reason: n.Reason, At: n.At})
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	r.ids, r.ats, r.data = append(r.ids, n.ID), append(r.ats, n.At), append(r.data, b)
	r.notBefore = append(r.notBefore, ts(n.NotBefore))
	r.tries, r.lastErrors = append(r.tries, int32(n.Tries)), append(r.lastErrors, n.LastError)
	return nil
}

func (r *notificationRows) queue(b *pgx.Batch) {
	switch len(r.ids) {
	case 0:
	case 1:
		b.Queue(insertNotification, r.ids[0], r.ats[0], r.notBefore[0], r.tries[0], r.lastErrors[0], r.data[0])
	default:
		b.Queue(insertNotificationsSQL, r.ids, r.ats, r.notBefore, r.tries, r.lastErrors, r.data)
	}
}

// Create implements [ports.CardStore]. The whole creation is one pipelined batch, one round
// trip, that PostgreSQL runs as one implicit transaction: the open-order guard of each user
// (with Exclusive), the cards, their events and notifications. Any failure rolls all of it back.
// A creation of one card with one audit event and no notifications (every order) shares its
// transaction with the other such creations waiting at the same moment (createOne).
func (s *Store) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(c.Cards) == 0 {
		return nil, nil
	}
	if len(c.Cards) == 1 && len(c.Events) == 1 && len(c.Notifications) == 0 {
		return s.createOne(ctx, c)
	}
	b := &pgx.Batch{}
	out, err := s.queueCards(b, c)
	if err != nil {
		return nil, err
	}
	var ev eventRows
	for i := range c.Events {
		if err := ev.add(&c.Events[i]); err != nil {
			return nil, err
		}
	}
	ev.queue(b)
	var nr notificationRows
	for i := range c.Notifications {
		if err := nr.add(&c.Notifications[i]); err != nil {
			return nil, err
		}
	}
	nr.queue(b)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("create %d cards (first %s): %w", len(out), c.Cards[0].ID, mapErr(err))
	}
	return out, nil
}

// queueCards queues the cards of a creation that does not share a transaction (several cards,
// or one with other than one event and no notifications): with Exclusive, the open-order guard
// of their users first, then one insert of all cards.
func (s *Store) queueCards(b *pgx.Batch, c ports.Creation) ([]ports.Card, error) {
	if c.Exclusive {
		var users []string
		for i, card := range c.Cards {
			if card.UserID == "" {
				continue
			}
			// Two open cards of one user in one exclusive creation refuse it, as the second
			// would find the first open.
			if card.State.Open() && slices.ContainsFunc(c.Cards[:i], func(o ports.Card) bool { return o.UserID == card.UserID && o.State.Open() }) {
				return nil, fmt.Errorf("create cards for user: %w", ports.ErrOpenOrderExists)
			}
			users = append(users, card.UserID)
		}
		if len(users) > 0 {
			b.Queue(guardSQL, s.lockClass, users)
		}
	}
	n := len(c.Cards)
	var (
		ids, states        = make([]string, n), make([]string, n)
		users, orderIDs    = make([]pgtype.Text, n), make([]pgtype.Text, n)
		queued, nb, leases = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		started            = make([]bool, n)
		data, photos       = make([][]byte, n), make([][]byte, n)
		out                = make([]ports.Card, n)
	)
	for i := range c.Cards {
		card := c.Cards[i]
		card.Version = 1
		d, err := encodeCard(&card)
		if err != nil {
			return nil, err
		}
		ids[i], states[i], users[i], orderIDs[i] = card.ID, string(card.State), text(card.UserID), text(card.ProviderOrderID)
		queued[i], nb[i], leases[i] = ts(card.QueuedAt), ts(card.NotBefore), ts(card.LeaseUntil)
		started[i], data[i], photos[i] = card.DispatchStarted, d, card.Photo
		out[i] = card
	}
	b.Queue(insertCardsSQL, ids, users, states, queued, nb, leases, started, orderIDs, data, photos)
	return out, nil
}

// updateSQL is the compare-and-set of one card with its event and notifications in one
// statement: with $20 (Exclusive) it first applies the open-order check of the card's user; the
// inserts read the updated row, so they happen only when the check passed and the version
// matched. It answers whether the check passed and the new version (NULL: no row matched).
const updateSQL = `
WITH ok AS (
    SELECT CASE WHEN $20::boolean THEN extprod_open_order_free($21, ARRAY[$22::text], $1) ELSE true END AS free
), u AS (
    UPDATE extprod_cards
    SET state = $3, version = version + 1, queued_at = $4, not_before = $5, lease_until = $6,
        dispatch_started = $7, provider_order_id = $8, data = $9, photo = $10
    WHERE id = $1 AND version = $2 AND (SELECT free FROM ok)
    RETURNING version
), e AS (
    INSERT INTO extprod_events (id, at, data)
    SELECT $11, $12, $13 FROM u WHERE $11 <> ''
    ON CONFLICT (id) DO NOTHING
), n AS (
    INSERT INTO extprod_notifications (id, at, not_before, tries, last_error, data)
    SELECT t.id, t.at, t.not_before, t.tries, t.last_error, t.data
    FROM u, unnest($14::text[], $15::timestamptz[], $16::timestamptz[], $17::integer[], $18::text[], $19::json[])
            WITH ORDINALITY AS t(id, at, not_before, tries, last_error, data, ord)
    ORDER BY t.ord
    ON CONFLICT (id) DO NOTHING
)
SELECT (SELECT free FROM ok), (SELECT version FROM u)`

// Update implements [ports.CardStore]: one statement (updateSQL), one round trip.
func (s *Store) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	if err := ctx.Err(); err != nil {
		return ports.Card{}, err
	}
	card := c.Card
	d, err := encodeCard(&card)
	if err != nil {
		return ports.Card{}, err
	}
	var evData []byte
	if c.Event.ID != "" {
		if evData, err = json.Marshal(&c.Event); err != nil {
			return ports.Card{}, fmt.Errorf("encode audit event %s: %w", c.Event.ID, err)
		}
	} else {
		evData = []byte("null")
	}
	var nr notificationRows
	for i := range c.Notifications {
		if err := nr.add(&c.Notifications[i]); err != nil {
			return ports.Card{}, err
		}
	}
	args := []any{card.ID, card.Version, string(card.State), ts(card.QueuedAt), ts(card.NotBefore), ts(card.LeaseUntil),
		card.DispatchStarted, text(card.ProviderOrderID), d, card.Photo,
		c.Event.ID, c.Event.At, evData,
		nr.ids, nr.ats, nr.notBefore, nr.tries, nr.lastErrors, nr.data}
	var (
		free    bool
		version pgtype.Int8
	)
	exclusive := c.Exclusive && card.UserID != ""
	args = append(args, exclusive, s.lockClass, card.UserID)
	err = s.pool.QueryRow(ctx, updateSQL, args...).Scan(&free, &version)
	switch {
	case err != nil:
		return ports.Card{}, fmt.Errorf("update card %s: %w", card.ID, mapErr(err))
	case !version.Valid:
		return ports.Card{}, s.updateMiss(ctx, card.ID, card.Version, !free)
	}
	card.Version = version.Int64
	return card, nil
}

// updateMiss tells why an update matched no row, in the order the memory store checks: the card
// is unknown, its version moved on, or (refused) the user has another open card.
func (s *Store) updateMiss(ctx context.Context, id string, version int64, refused bool) error {
	var stored int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM extprod_cards WHERE id = $1`, id).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("update card %s: %w", id, ports.ErrNotFound)
	case err != nil:
		return fmt.Errorf("update card %s: %w", id, mapErr(err))
	case stored != version || !refused:
		return fmt.Errorf("update card %s: %w", id, ports.ErrConflict)
	}
	return fmt.Errorf("update card %s: %w", id, ports.ErrOpenOrderExists)
}

// Card implements [ports.CardStore].
func (s *Store) Card(ctx context.Context, id string) (ports.Card, error) {
	var (
		version int64
		data    []byte
		photo   []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT version, data, photo FROM extprod_cards WHERE id = $1`, id).Scan(&version, &data, &photo)
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.Card{}, fmt.Errorf("card %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.Card{}, fmt.Errorf("card %s: %w", id, mapErr(err))
	}
	c, err := decodeCard(data, version, photo)
	if err != nil {
		return ports.Card{}, fmt.Errorf("card %s: %w", id, err)
	}
	return c, nil
}

// The listings, one text per filter shape so that each prepared statement gets a plan that uses
// its index (a generic plan of "$2 = ” OR user_id = $2" would use none).
const (
	listAllSQL  = `SELECT seq, version, data, photo FROM extprod_cards WHERE seq > $1 ORDER BY seq LIMIT $2`
	listUserSQL = `SELECT seq, version, data, photo FROM extprod_cards WHERE user_id = $3 AND seq > $1 ORDER BY seq LIMIT $2`
	// One scan per state, merged, so that the planner can take one range of the (state, seq)
	// index per state where a state is rare, instead of walking the whole cursor order.
	listStatesSQL = `SELECT c.seq, c.version, c.data, c.photo
FROM (SELECT DISTINCT unnest($3::text[]) AS state) s,
     LATERAL (SELECT seq, version, data, photo FROM extprod_cards
              WHERE state = s.state AND seq > $1 ORDER BY seq LIMIT $2) c
ORDER BY c.seq LIMIT $2`
	listUserStatesSQL = `SELECT seq, version, data, photo FROM extprod_cards WHERE user_id = $3 AND state = ANY($4) AND seq > $1 ORDER BY seq LIMIT $2`
)

// List implements [ports.CardStore]. The cursor is the creation sequence (an identity column) of
// the last card returned, so cards that change state keep their place and cards added later
// come after it.
func (s *Store) List(ctx context.Context, f ports.CardFilter) (ports.CardPage, error) {
	limit := f.Limit
	if limit <= 0 || limit > s.cfg.MaxPage {
		limit = s.cfg.MaxPage
	}
	states := make([]string, len(f.States))
	for i, st := range f.States {
		states[i] = string(st)
	}
	// One more than the page tells whether there is a next page.
	args := []any{f.After, limit + 1}
	var sql string
	switch {
	case f.UserID == "" && len(states) == 0:
		sql = listAllSQL
	case len(states) == 0:
		sql, args = listUserSQL, append(args, f.UserID)
	case f.UserID == "":
		sql, args = listStatesSQL, append(args, states)
	default:
		sql, args = listUserStatesSQL, append(args, f.UserID, states)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return ports.CardPage{}, fmt.Errorf("list cards: %w", mapErr(err))
	}
	defer rows.Close()
	var (
		page         ports.CardPage
		seq, version int64
		data, photo  []byte
		last         int64
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &version, &data, &photo); err != nil {
			return ports.CardPage{}, fmt.Errorf("list cards: %w", mapErr(err))
		}
		if len(page.Cards) == limit {
			page.Next = last
			break
		}
		c, err := decodeCard(data, version, photo)
		if err != nil {
			return ports.CardPage{}, fmt.Errorf("list cards: %w", err)
		}
		page.Cards = append(page.Cards, c)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return ports.CardPage{}, fmt.Errorf("list cards: %w", mapErr(err))
	}
	return page, nil
}

// claimSQL leases up to $2 due processing cards, oldest queued first, skipping rows another
// claimer holds locked, and bumps their version in the same statement.
const claimSQL = `
WITH due AS (
    SELECT seq FROM extprod_cards
    WHERE state = 'processing'
      AND (not_before IS NULL OR not_before <= $1)
      AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY queued_at, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE extprod_cards c
SET lease_until = $3, dispatch_started = true, version = c.version + 1,
    data = (c.data::jsonb || jsonb_build_object('leaseUntil', $4::text, 'dispatchStarted', true))::json
FROM due
WHERE c.seq = due.seq
RETURNING c.seq, c.queued_at, c.version, c.data, c.photo`

// Claim implements [ports.Queue]: one statement that selects the due cards with FOR UPDATE SKIP
// LOCKED and leases them, so concurrent claimers — in this process or others — never get the
// same card while its lease runs.
func (s *Store) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Card, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	until := now.Add(lease)
	rows, err := s.pool.Query(ctx, claimSQL, now, max, until, until.Format(time.RFC3339Nano))
	if err != nil {
		return nil, fmt.Errorf("claim cards: %w", mapErr(err))
	}
	defer rows.Close()
	type claimed struct {
		seq    int64
		queued pgtype.Timestamptz
		card   ports.Card
	}
	var got []claimed
	for rows.Next() {
		var (
			cl          claimed
			version     int64
			data, photo []byte
		)
		if err := rows.Scan(&cl.seq, &cl.queued, &version, &data, &photo); err != nil {
			return nil, fmt.Errorf("claim cards: %w", mapErr(err))
		}
		if cl.card, err = decodeCard(data, version, photo); err != nil {
			return nil, fmt.Errorf("claim cards: %w", err)
		}
		got = append(got, cl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim cards: %w", mapErr(err))
	}
	// RETURNING has no order: oldest queued first, then by creation, as the claim chose them.
	slices.SortFunc(got, func(a, b claimed) int {
		switch {
		case a.queued.Valid != b.queued.Valid:
			if a.queued.Valid {
				return -1
			}
			return 1
		case a.queued.Valid && !a.queued.Time.Equal(b.queued.Time):
			return a.queued.Time.Compare(b.queued.Time)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]ports.Card, len(got))
	for i := range got {
		out[i] = got[i].card
	}
	return out, nil
}

// Stats implements [ports.Queue].
func (s *Store) Stats(ctx context.Context, now time.Time) (ports.QueueStats, error) {
	var (
		st     ports.QueueStats
		oldest pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `
SELECT count(*),
       count(*) FILTER (WHERE (not_before IS NULL OR not_before <= $1) AND (lease_until IS NULL OR lease_until <= $1)),
       min(queued_at)
FROM extprod_cards WHERE state = 'processing'`, now).Scan(&st.Depth, &st.Due, &oldest)
	if err != nil {
		return ports.QueueStats{}, fmt.Errorf("queue stats: %w", mapErr(err))
	}
	if oldest.Valid {
		st.OldestQueuedAt = oldest.Time.UTC()
	}
	return st, nil
}
