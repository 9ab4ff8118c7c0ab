package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// cardRow is a card as the cards table holds it.
type cardRow struct {
	userID          sql.NullString
	state           string
	open            int
	providerOrderID sql.NullString
	queuedAt, dueAt int64
	data            []byte
	photo           []byte
}

func encodeCard(c ports.Card) (cardRow, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return cardRow{}, fmt.Errorf("encode card %s: %w", c.ID, err)
	}
	r := cardRow{
		userID:          sql.NullString{String: c.UserID, Valid: c.UserID != ""},
		state:           string(c.State),
		providerOrderID: sql.NullString{String: c.ProviderOrderID, Valid: c.ProviderOrderID != ""},
		queuedAt:        ns(c.QueuedAt),
		dueAt:           ns(due(c)),
		data:            data,
		photo:           c.Photo,
	}
	if c.State.Open() {
		r.open = 1
	}
	return r, nil
}

func decodeCard(data, photo []byte, version int64) (ports.Card, error) {
	var c ports.Card
	if err := json.Unmarshal(data, &c); err != nil {
		return ports.Card{}, fmt.Errorf("decode card: %w", err)
	}
	c.Version = version
	if len(photo) > 0 {
		c.Photo = photo
	}
	return c, nil
}

// due is when a processing card may be claimed: after its back-off and its lease.
func due(c ports.Card) time.Time {
	if c.LeaseUntil.After(c.NotBefore) {
		return c.LeaseUntil
	}
	return c.NotBefore
}

const insertCard = `INSERT INTO cards (id, user_id, state, open, provider_order_id, version, queued_at, due_at, data, photo)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// hasOpen reports whether user has an open card other than the one named except.
func hasOpen(ctx context.Context, tx *sql.Tx, user, except string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM cards WHERE user_id = ? AND open = 1 AND id <> ? LIMIT 1`, user, except).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Create implements [ports.CardStore]. The one-open-order check and the inserts run in one
// BEGIN IMMEDIATE transaction, which holds the database's only write lock, so no other
// connection or process can insert an open card for the same user in between.
func (s *Store) Create(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	out := make([]ports.Card, len(c.Cards))
	rows := make([]cardRow, len(c.Cards))
	for i, card := range c.Cards {
		card.Version = 1
		r, err := encodeCard(card)
		if err != nil {
			return nil, err
		}
		out[i], rows[i] = card, r
	}
	events, err := encodeEvents(c.Events)
	if err != nil {
		return nil, err
	}
	notes, err := encodeNotifications(c.Notifications)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, "create cards", func(tx *sql.Tx) error {
		checked := map[string]bool{}
		for i, card := range c.Cards {
			if !c.Exclusive || card.UserID == "" {
				continue
			}
			for _, o := range c.Cards[:i] {
				if o.UserID == card.UserID && o.State.Open() && card.State.Open() {
					return domainError{ports.ErrOpenOrderExists}
				}
			}
			if checked[card.UserID] {
				continue
			}
			checked[card.UserID] = true
			open, err := hasOpen(ctx, tx, card.UserID, "")
			if err != nil {
				return err
			}
			if open {
				return domainError{ports.ErrOpenOrderExists}
			}
		}
		for i, r := range rows {
			if _, err := tx.ExecContext(ctx, insertCard, c.Cards[i].ID, r.userID, r.state, r.open, r.providerOrderID,
				1, r.queuedAt, r.dueAt, r.data, r.photo); err != nil {
				return fmt.Errorf("card %s: %w", c.Cards[i].ID, err)
			}
		}
		return insertOutbox(ctx, tx, events, notes)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update implements [ports.CardStore]: a compare-and-set on the stored version, in one
// transaction with the change's audit event and notifications.
func (s *Store) Update(ctx context.Context, c ports.Change) (ports.Card, error) {
	next := c.Card
	next.Version = c.Card.Version + 1
	r, err := encodeCard(next)
	if err != nil {
		return ports.Card{}, err
	}
	var events []encodedEvent
	if c.Event.ID != "" {
		if events, err = encodeEvents([]ports.AuditEvent{c.Event}); err != nil {
			return ports.Card{}, err
		}
	}
	notes, err := encodeNotifications(c.Notifications)
	if err != nil {
		return ports.Card{}, err
	}
	err = s.write(ctx, "update card "+c.Card.ID, func(tx *sql.Tx) error {
		var version int64
		var user sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT version, user_id FROM cards WHERE id = ?`, c.Card.ID).Scan(&version, &user)
		if errors.Is(err, sql.ErrNoRows) {
			return domainError{ports.ErrNotFound}
		}
		if err != nil {
			return err
		}
		if version != c.Card.Version {
			return domainError{ports.ErrConflict}
		}
		if c.Exclusive && user.String != "" {
			open, err := hasOpen(ctx, tx, user.String, c.Card.ID)
			if err != nil {
				return err
			}
			if open {
				return domainError{ports.ErrOpenOrderExists}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cards SET user_id = ?, state = ?, open = ?, provider_order_id = ?,
			version = ?, queued_at = ?, due_at = ?, data = ?, photo = ? WHERE id = ? AND version = ?`,
			r.userID, r.state, r.open, r.providerOrderID, next.Version, r.queuedAt, r.dueAt, r.data, r.photo,
			c.Card.ID, c.Card.Version); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, events, notes)
	})
	if err != nil {
		return ports.Card{}, err
	}
	return next, nil
}

// Card implements [ports.CardStore].
func (s *Store) Card(ctx context.Context, id string) (ports.Card, error) {
	var data, photo []byte
	var version int64
	err := s.r.QueryRowContext(ctx, `SELECT data, photo, version FROM cards WHERE id = ?`, id).Scan(&data, &photo, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.Card{}, fmt.Errorf("sqlite: card %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.Card{}, dbErr(ctx, "card "+id, err)
	}
	return decodeCard(data, photo, version)
}

// List implements [ports.CardStore]. The cursor is the creation sequence (the rowid) of the last
// card returned, so cards added meanwhile appear on later pages and nothing is skipped or
// repeated.
func (s *Store) List(ctx context.Context, f ports.CardFilter) (ports.CardPage, error) {
	limit := f.Limit
	if limit <= 0 || limit > s.cfg.MaxPage {
		limit = s.cfg.MaxPage
	}
	var q strings.Builder
	args := []any{f.After}
	q.WriteString(`SELECT seq, data, photo, version FROM cards WHERE seq > ?`)
	if f.UserID != "" {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.UserID)
	}
	if len(f.States) > 0 {
		q.WriteString(` AND state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`)
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	q.WriteString(` ORDER BY seq LIMIT ?`)
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return ports.CardPage{}, dbErr(ctx, "list cards", err)
	}
	defer rows.Close()
	var page ports.CardPage
	var last int64
	for rows.Next() {
		var seq, version int64
		var data, photo []byte
		if err := rows.Scan(&seq, &data, &photo, &version); err != nil {
			return ports.CardPage{}, dbErr(ctx, "list cards", err)
		}
		if len(page.Cards) == limit {
			page.Next = last
			break
		}
		c, err := decodeCard(data, photo, version)
		if err != nil {
			return ports.CardPage{}, err
		}
		page.Cards = append(page.Cards, c)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return ports.CardPage{}, dbErr(ctx, "list cards", err)
	}
	return page, nil
}

// Claim implements [ports.Queue]: in one BEGIN IMMEDIATE transaction it reads the due processing
// cards oldest QueuedAt first (the partial index cards_queue) and leases them. The write lock
// makes a claim atomic across connections and processes: two claimers never get the same card.
func (s *Store) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Card, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	var out []ports.Card
	err := s.write(ctx, "claim", func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT data, photo, version FROM cards
			WHERE state = 'processing' AND due_at <= ? ORDER BY queued_at, seq LIMIT ?`, ns(now), max)
		if err != nil {
			return err
		}
		for rows.Next() {
			var data, photo []byte
			var version int64
			if err := rows.Scan(&data, &photo, &version); err != nil {
				rows.Close()
				return err
			}
			c, err := decodeCard(data, photo, version)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			c := &out[i]
			c.DispatchStarted = true
			c.LeaseUntil = now.Add(lease)
			c.Version++
			data, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cards SET version = ?, due_at = ?, data = ? WHERE id = ?`,
				c.Version, ns(due(*c)), data, c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats implements [ports.Queue].
func (s *Store) Stats(ctx context.Context, now time.Time) (ports.QueueStats, error) {
	var st ports.QueueStats
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(due_at <= ?), 0), min(queued_at)
		FROM cards WHERE state = 'processing'`, ns(now)).Scan(&st.Depth, &st.Due, &oldest)
	if err != nil {
		return ports.QueueStats{}, dbErr(ctx, "queue stats", err)
	}
	if oldest.Valid {
		st.OldestQueuedAt = fromNS(oldest.Int64)
	}
	return st, nil
}
