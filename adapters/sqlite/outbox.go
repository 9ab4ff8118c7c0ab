package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cardsaddon/extprod/internal/outboxclaim"
	"github.com/cardsaddon/extprod/ports"
)

type encodedEvent struct {
	id   string
	at   int64
	data []byte
}

type encodedNotification struct {
	id            string
	at, notBefore int64
	tries         int
	lastError     string
	data          []byte
}

func encodeEvents(events []ports.AuditEvent) ([]encodedEvent, error) {
	out := make([]encodedEvent, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode audit event %s: %w", e.ID, err)
		}
		out[i] = encodedEvent{id: e.ID, at: ns(e.At), data: data}
	}
	return out, nil
}

func encodeNotifications(notes []ports.Notification) ([]encodedNotification, error) {
	out := make([]encodedNotification, len(notes))
	for i, n := range notes {
		data, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("encode notification %s: %w", n.ID, err)
		}
		out[i] = encodedNotification{id: n.ID, at: ns(n.At), notBefore: ns(n.NotBefore), tries: n.Tries,
			lastError: n.LastError, data: data}
	}
	return out, nil
}

// insertOutbox writes events and notifications in the caller's transaction.
func insertOutbox(ctx context.Context, tx *wtx, events []encodedEvent, notes []encodedNotification) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_events (id, at, data) VALUES (?, ?, ?)`, e.id, e.at, e.data); err != nil {
			return fmt.Errorf("audit event %s: %w", e.id, err)
		}
	}
	for _, n := range notes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_notifications (id, at, not_before, tries, last_error, data)
			VALUES (?, ?, ?, ?, ?, ?)`, n.id, n.at, n.notBefore, n.tries, n.lastError, n.data); err != nil {
			return fmt.Errorf("notification %s: %w", n.id, err)
		}
	}
	return nil
}

// AddEvents implements [ports.Outbox].
func (s *Store) AddEvents(ctx context.Context, events []ports.AuditEvent) error {
	enc, err := encodeEvents(events)
	if err != nil {
		return err
	}
	if len(enc) == 0 {
		return ctx.Err()
	}
	return s.write(ctx, "add audit events", func(tx *wtx) error { return insertOutbox(ctx, tx, enc, nil) })
}

// ClaimEvents implements [ports.Outbox]: one UPDATE … RETURNING under the write lock leases the
// oldest undelivered events whose lease ran out.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.AuditEvent, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	var out []ports.AuditEvent
	err := s.write(ctx, "claim audit events", func(tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox_events SET lease_until = ?
			WHERE seq IN (SELECT seq FROM outbox_events WHERE delivered_at IS NULL AND lease_until <= ?
				ORDER BY at, seq LIMIT ?)
			RETURNING seq, data`, ns(now.Add(lease)), ns(now), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = outboxclaim.Collect(rows, func() (outboxclaim.Row[ports.AuditEvent], error) {
			var r outboxclaim.Row[ports.AuditEvent]
			var data []byte
			if err := rows.Scan(&r.Seq, &data); err != nil {
				return r, err
			}
			if err := json.Unmarshal(data, &r.Entry); err != nil {
				return r, fmt.Errorf("decode audit event: %w", err)
			}
			r.At = r.Entry.At
			return r, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EventsDelivered implements [ports.Outbox].
func (s *Store) EventsDelivered(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return ctx.Err()
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return s.write(ctx, "mark audit events delivered", func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_events SET delivered_at = ?, lease_until = 0
			WHERE id IN (SELECT value FROM json_each(?)) AND delivered_at IS NULL`, ns(at), string(list))
		return err
	})
}

// ClaimNotifications implements [ports.Outbox].
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Notification, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	var out []ports.Notification
	err := s.write(ctx, "claim notifications", func(tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox_notifications SET lease_until = ?1, tries = tries + 1
			WHERE seq IN (SELECT seq FROM outbox_notifications
				WHERE sent_at IS NULL AND not_before <= ?2 AND lease_until <= ?2
				ORDER BY at, seq LIMIT ?3)
			RETURNING seq, tries, last_error, not_before, data`, ns(now.Add(lease)), ns(now), max)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = outboxclaim.Collect(rows, func() (outboxclaim.Row[ports.Notification], error) {
			var r outboxclaim.Row[ports.Notification]
			var data []byte
			var notBefore int64
			if err := rows.Scan(&r.Seq, &r.Entry.Tries, &r.Entry.LastError, &notBefore, &data); err != nil {
				return r, err
			}
			tries, lastErr := r.Entry.Tries, r.Entry.LastError
			if err := json.Unmarshal(data, &r.Entry); err != nil {
				return r, fmt.Errorf("decode notification: %w", err)
			}
			r.Entry.Tries, r.Entry.LastError, r.Entry.NotBefore = tries, lastErr, fromNS(notBefore)
			r.At = r.Entry.At
			return r, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// NotificationSent implements [ports.Outbox].
func (s *Store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "mark notification "+id+" sent", func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_notifications SET sent_at = ?, lease_until = 0
			WHERE id = ? AND sent_at IS NULL`, ns(at), id)
		return err
	})
}

// NotificationFailed implements [ports.Outbox].
func (s *Store) NotificationFailed(ctx context.Context, id string, reason string, retryAt time.Time) error {
	return s.write(ctx, "mark notification "+id+" failed", func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_notifications SET last_error = ?, not_before = ?, lease_until = 0
			WHERE id = ? AND sent_at IS NULL`, reason, ns(retryAt), id)
		return err
	})
}

// PurgeDelivered implements [ports.Outbox]: it removes up to max delivered events and sent
// notifications (together) delivered before before.
func (s *Store) PurgeDelivered(ctx context.Context, before time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, ctx.Err()
	}
	var n int
	err := s.write(ctx, "purge delivered outbox entries", func(tx *wtx) error {
		n = 0
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox_events WHERE seq IN (SELECT seq FROM outbox_events
			WHERE delivered_at IS NOT NULL AND delivered_at < ? LIMIT ?)`, ns(before), max)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		n += int(k)
		if n >= max {
			return nil
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM outbox_notifications WHERE seq IN (SELECT seq FROM outbox_notifications
			WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?)`, ns(before), max-n)
		if err != nil {
			return err
		}
		k, _ = res.RowsAffected()
		n += int(k)
		return nil
	})
	return n, err
}

// OutboxStats implements [ports.Outbox].
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (ports.OutboxStats, error) {
	var st ports.OutboxStats
	var e, n sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL),
		(SELECT count(*) FROM outbox_notifications WHERE sent_at IS NULL),
		(SELECT min(at) FROM outbox_events WHERE delivered_at IS NULL),
		(SELECT min(at) FROM outbox_notifications WHERE sent_at IS NULL)`).Scan(&st.PendingEvents, &st.PendingNotifications, &e, &n)
	if err != nil {
		return ports.OutboxStats{}, dbErr(ctx, "outbox stats", err)
	}
	switch {
	case e.Valid && n.Valid:
		st.OldestPendingAt = fromNS(min(e.Int64, n.Int64))
	case e.Valid:
		st.OldestPendingAt = fromNS(e.Int64)
	case n.Valid:
		st.OldestPendingAt = fromNS(n.Int64)
	}
	return st, nil
}
