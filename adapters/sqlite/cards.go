package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	leaseUntil      int64
	dispatchStarted int
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
		leaseUntil:      ns(c.LeaseUntil),
		data:            data,
		photo:           c.Photo,
	}
	if c.State.Open() {
		r.open = 1
	}
	if c.DispatchStarted {
		r.dispatchStarted = 1
	}
	return r, nil
}

// cardCols are the columns scanCard reads.
const cardCols = `data, photo, version, lease_until, dispatch_started`

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanCard reads the cardCols of one row, after extra leading columns.
func scanCard(r rowScanner, extra ...any) (ports.Card, error) {
	var data, photo []byte
	var version, leaseUntil int64
	var started int
	if err := r.Scan(append(extra, &data, &photo, &version, &leaseUntil, &started)...); err != nil {
		return ports.Card{}, err
	}
	return decodeCard(data, photo, version, leaseUntil, started == 1)
}

func decodeCard(data, photo []byte, version, leaseUntil int64, started bool) (ports.Card, error) {
	var c ports.Card
	if err := json.Unmarshal(data, &c); err != nil {
		return ports.Card{}, fmt.Errorf("decode card: %w", err)
	}
	c.Version, c.LeaseUntil, c.DispatchStarted = version, fromNS(leaseUntil), started
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

const insertCard = `INSERT INTO cards (id, user_id, state, open, provider_order_id, version, queued_at, due_at,
	lease_until, dispatch_started, data, photo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// hasOpen reports whether user has an open card other than the one named except.
func hasOpen(ctx context.Context, tx *wtx, user, except string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM cards INDEXED BY cards_user WHERE user_id = ? AND open = 1 AND id <> ? LIMIT 1`, user, except).Scan(&one)
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
	err = s.write(ctx, "create cards", func(tx *wtx) error {
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
				1, r.queuedAt, r.dueAt, r.leaseUntil, r.dispatchStarted, r.data, r.photo); err != nil {
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
	err = s.write(ctx, "update card "+c.Card.ID, func(tx *wtx) error {
		var old cardRow
		var version int64
		err := tx.QueryRowContext(ctx, `SELECT version, user_id, state, open, provider_order_id, queued_at, due_at,
			lease_until, dispatch_started, photo FROM cards WHERE id = ?`, c.Card.ID).Scan(&version, &old.userID,
			&old.state, &old.open, &old.providerOrderID, &old.queuedAt, &old.dueAt, &old.leaseUntil, &old.dispatchStarted, &old.photo)
		if errors.Is(err, sql.ErrNoRows) {
			return domainError{ports.ErrNotFound}
		}
		if err != nil {
			return err
		}
		if version != c.Card.Version {
			return domainError{ports.ErrConflict}
		}
		if c.Exclusive && old.userID.String != "" {
			open, err := hasOpen(ctx, tx, old.userID.String, c.Card.ID)
			if err != nil {
				return err
			}
			if open {
				return domainError{ports.ErrOpenOrderExists}
			}
		}
		// Only the columns that change are set, so an update leaves the pages of the indexes
		// it does not concern alone (each page written is one more WAL frame).
		q := "UPDATE cards SET version = ?, data = ?"
		args := []any{next.Version, r.data}
		set := func(col string, changed bool, v any) {
			if changed {
				q += ", " + col + " = ?"
				args = append(args, v)
			}
		}
		set("user_id", old.userID != r.userID, r.userID)
		set("state", old.state != r.state, r.state)
		set("open", old.open != r.open, r.open)
		set("provider_order_id", old.providerOrderID != r.providerOrderID, r.providerOrderID)
		set("queued_at", old.queuedAt != r.queuedAt, r.queuedAt)
		set("due_at", old.dueAt != r.dueAt, r.dueAt)
		set("lease_until", old.leaseUntil != r.leaseUntil, r.leaseUntil)
		set("dispatch_started", old.dispatchStarted != r.dispatchStarted, r.dispatchStarted)
		set("photo", !bytes.Equal(old.photo, r.photo) || (old.photo == nil) != (r.photo == nil), r.photo)
		if _, err := tx.ExecContext(ctx, q+" WHERE id = ? AND version = ?", append(args, c.Card.ID, c.Card.Version)...); err != nil {
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
	c, err := scanCard(s.r.QueryRowContext(ctx, `SELECT `+cardCols+` FROM cards WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ports.Card{}, fmt.Errorf("sqlite: card %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.Card{}, dbErr(ctx, "card "+id, err)
	}
	return c, nil
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
	q.WriteString(`SELECT seq, ` + cardCols + ` FROM cards WHERE seq > ?`)
	if f.UserID == "" && len(f.States) > 1 {
		// Several states: SQLite would read every card of those states (cards_state) and sort
		// them. Instead find where this page ends from each state's own index range, so a
		// page costs the same with 10³ or 10⁶ cards.
		end, err := s.pageEnd(ctx, f.States, f.After, limit+1)
		if err != nil {
			return ports.CardPage{}, err
		}
		if end == 0 {
			return ports.CardPage{}, nil
		}
		q.WriteString(` AND seq <= ?`)
		args = append(args, end)
	}
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
		if len(page.Cards) == limit {
			page.Next = last
			break
		}
		var seq int64
		c, err := scanCard(rows, &seq)
		if err != nil {
			return ports.CardPage{}, dbErr(ctx, "list cards", err)
		}
		page.Cards = append(page.Cards, c)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return ports.CardPage{}, dbErr(ctx, "list cards", err)
	}
	return page, nil
}

// pageEnd returns the seq of the n-th card after after whose state is one of states, or the last
// such card's when there are fewer; 0 when there is none.
func (s *Store) pageEnd(ctx context.Context, states []ports.CardState, after int64, n int) (int64, error) {
	var seqs []int64
	for _, st := range slices.Compact(slices.Sorted(slices.Values(states))) {
		rows, err := s.r.QueryContext(ctx, `SELECT seq FROM cards WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?`, string(st), after, n)
		if err != nil {
			return 0, dbErr(ctx, "list cards", err)
		}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return 0, dbErr(ctx, "list cards", err)
			}
			seqs = append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, dbErr(ctx, "list cards", err)
		}
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	slices.Sort(seqs)
	return seqs[min(n, len(seqs))-1], nil
}

// Claim implements [ports.Queue]: in one BEGIN IMMEDIATE transaction it reads the due processing
// cards oldest QueuedAt first (the partial index cards_queue) and leases them. The write lock
// makes a claim atomic across connections and processes: two claimers never get the same card.
func (s *Store) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Card, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	var out []ports.Card
	err := s.write(ctx, "claim", func(tx *wtx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT seq, `+cardCols+` FROM cards INDEXED BY cards_queue
			WHERE state = 'processing' AND due_at <= ? ORDER BY queued_at, seq LIMIT ?`, ns(now), max)
		if err != nil {
			return err
		}
		var seqs []int64
		for rows.Next() {
			var seq int64
			c, err := scanCard(rows, &seq)
			if err != nil {
				rows.Close()
				return err
			}
			out, seqs = append(out, c), append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The lease lives in columns of its own, so a claim rewrites no card data.
		for i := range out {
			c := &out[i]
			c.DispatchStarted = true
			c.LeaseUntil = now.Add(lease)
			c.Version++
			if _, err := tx.ExecContext(ctx, `UPDATE cards SET version = ?, due_at = ?, lease_until = ?, dispatch_started = 1
				WHERE seq = ?`, c.Version, ns(due(*c)), ns(c.LeaseUntil), seqs[i]); err != nil {
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
		FROM cards INDEXED BY cards_queue WHERE state = 'processing'`, ns(now)).Scan(&st.Depth, &st.Due, &oldest)
	if err != nil {
		return ports.QueueStats{}, dbErr(ctx, "queue stats", err)
	}
	if oldest.Valid {
		st.OldestQueuedAt = fromNS(oldest.Int64)
	}
	return st, nil
}
