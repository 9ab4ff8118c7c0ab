package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cardsaddon/extprod/internal/outboxclaim"
	"github.com/cardsaddon/extprod/ports"
)

// AddEvents implements [ports.Outbox].
func (s *Store) AddEvents(ctx context.Context, events []ports.AuditEvent) error {
	if len(events) == 0 {
		return ctx.Err()
	}
	var ev eventRows
	for i := range events {
		if err := ev.add(&events[i]); err != nil {
			return err
		}
	}
	if _, err := s.pool.Exec(ctx, insertEventsSQL, ev.ids, ev.ats, ev.data); err != nil {
		return fmt.Errorf("add %d audit events: %w", len(events), mapErr(err))
	}
	return nil
}

const claimEventsSQL = `
WITH due AS (
    SELECT seq FROM extprod_events
    WHERE delivered_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY at, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE extprod_events e SET lease_until = $3
FROM due WHERE e.seq = due.seq
RETURNING e.seq, e.at, e.data`

// ClaimEvents implements [ports.Outbox]: one statement, FOR UPDATE SKIP LOCKED and a lease, as
// [Store.Claim] does for cards.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.AuditEvent, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	rows, err := s.pool.Query(ctx, claimEventsSQL, now, max, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim audit events: %w", mapErr(err))
	}
	defer rows.Close()
	out, err := outboxclaim.Collect(rows, func() (outboxclaim.Row[ports.AuditEvent], error) {
		var (
			r    outboxclaim.Row[ports.AuditEvent]
			data []byte
		)
		if err := rows.Scan(&r.Seq, &r.At, &data); err != nil {
			return r, err
		}
		if err := json.Unmarshal(data, &r.Entry); err != nil {
			return r, fmt.Errorf("decode: %w", err)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim audit events: %w", mapErr(err))
	}
	return out, nil
}

// EventsDelivered implements [ports.Outbox].
func (s *Store) EventsDelivered(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return ctx.Err()
	}
	_, err := s.pool.Exec(ctx, `UPDATE extprod_events SET delivered_at = $2, lease_until = NULL
		WHERE id = ANY($1) AND delivered_at IS NULL`, ids, at)
	if err != nil {
		return fmt.Errorf("mark %d audit events delivered: %w", len(ids), mapErr(err))
	}
	return nil
}

const claimNotificationsSQL = `
WITH due AS (
    SELECT seq FROM extprod_notifications
    WHERE sent_at IS NULL
      AND (not_before IS NULL OR not_before <= $1)
      AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY at, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE extprod_notifications n SET lease_until = $3, tries = n.tries + 1
FROM due WHERE n.seq = due.seq
RETURNING n.seq, n.id, n.data, n.tries, n.last_error, n.not_before`

// ClaimNotifications implements [ports.Outbox].
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ports.Notification, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	rows, err := s.pool.Query(ctx, claimNotificationsSQL, now, max, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", mapErr(err))
	}
	defer rows.Close()
	out, err := outboxclaim.Collect(rows, func() (outboxclaim.Row[ports.Notification], error) {
		var (
			r         outboxclaim.Row[ports.Notification]
			data      []byte
			tries     int32
			notBefore pgtype.Timestamptz
			nd        notificationData
		)
		if err := rows.Scan(&r.Seq, &r.Entry.ID, &data, &tries, &r.Entry.LastError, &notBefore); err != nil {
			return r, err
		}
		if err := json.Unmarshal(data, &nd); err != nil {
			return r, fmt.Errorf("decode: %w", err)
		}
		n := &r.Entry
		n.Kind, n.To, n.CardID, n.Reason, n.At = nd.Kind, nd.To, nd.CardID, nd.Reason, nd.At
		n.Tries = int(tries)
		if notBefore.Valid {
			n.NotBefore = notBefore.Time.UTC()
		}
		r.At = n.At
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", mapErr(err))
	}
	return out, nil
}

// NotificationSent implements [ports.Outbox].
func (s *Store) NotificationSent(ctx context.Context, id string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE extprod_notifications SET sent_at = $2, lease_until = NULL
		WHERE id = $1 AND sent_at IS NULL`, id, at)
	if err != nil {
		return fmt.Errorf("mark notification %s sent: %w", id, mapErr(err))
	}
	return nil
}

// NotificationFailed implements [ports.Outbox].
func (s *Store) NotificationFailed(ctx context.Context, id string, reason string, retryAt time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE extprod_notifications SET last_error = $2, not_before = $3, lease_until = NULL
		WHERE id = $1 AND sent_at IS NULL`, id, reason, ts(retryAt))
	if err != nil {
		return fmt.Errorf("record failure of notification %s: %w", id, mapErr(err))
	}
	return nil
}

// PurgeDelivered implements [ports.Outbox]: delivered events first, then sent notifications,
// max rows in all.
func (s *Store) PurgeDelivered(ctx context.Context, before time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, ctx.Err()
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM extprod_events WHERE seq IN (
		SELECT seq FROM extprod_events WHERE delivered_at < $1 LIMIT $2)`, before, max)
	if err != nil {
		return 0, fmt.Errorf("purge delivered audit events: %w", mapErr(err))
	}
	n := int(tag.RowsAffected())
	if n == max {
		return n, nil
	}
	tag, err = s.pool.Exec(ctx, `DELETE FROM extprod_notifications WHERE seq IN (
		SELECT seq FROM extprod_notifications WHERE sent_at < $1 LIMIT $2)`, before, max-n)
	if err != nil {
		return n, fmt.Errorf("purge sent notifications: %w", mapErr(err))
	}
	return n + int(tag.RowsAffected()), nil
}

// OutboxStats implements [ports.Outbox].
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (ports.OutboxStats, error) {
	var (
		st     ports.OutboxStats
		oldest pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM extprod_events WHERE delivered_at IS NULL),
       (SELECT count(*) FROM extprod_notifications WHERE sent_at IS NULL),
       least((SELECT min(at) FROM extprod_events WHERE delivered_at IS NULL),
             (SELECT min(at) FROM extprod_notifications WHERE sent_at IS NULL))`).Scan(
		&st.PendingEvents, &st.PendingNotifications, &oldest)
	if err != nil {
		return ports.OutboxStats{}, fmt.Errorf("outbox stats: %w", mapErr(err))
	}
	if oldest.Valid {
		st.OldestPendingAt = oldest.Time.UTC()
	}
	return st, nil
}
