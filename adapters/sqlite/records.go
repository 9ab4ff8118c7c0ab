package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Script implements [ports.ScriptStore].
func (s *Store) Script(ctx context.Context) (source, version string, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT source, version FROM option_script WHERE one = 1`).Scan(&source, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("sqlite: option script: %w", ports.ErrNotFound)
	}
	if err != nil {
		return "", "", dbErr(ctx, "option script", err)
	}
	return source, version, nil
}

// ReplaceScript implements [ports.ScriptStore]: a compare-and-set on the stored version.
func (s *Store) ReplaceScript(ctx context.Context, source, version, expectVersion string) error {
	if version == "" {
		return errors.New("sqlite: replace script: empty version")
	}
	return s.write(ctx, "replace option script", func(tx *wtx) error {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT version FROM option_script WHERE one = 1`).Scan(&have)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if have != expectVersion {
			return domainError{fmt.Errorf("installed version is %q, not %q: %w", have, expectVersion, ports.ErrConflict)}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO option_script (one, source, version) VALUES (1, ?, ?)
			ON CONFLICT (one) DO UPDATE SET source = excluded.source, version = excluded.version`, source, version)
		return err
	})
}

// Reserve implements [ports.IdempotencyStore]. The read and the reservation are one BEGIN
// IMMEDIATE transaction, so of racing calls for one key exactly one reserves it.
func (s *Store) Reserve(ctx context.Context, key, fingerprint string, now time.Time, hold time.Duration) (ports.IdempotencyRecord, bool, error) {
	var rec ports.IdempotencyRecord
	var reserved bool
	err := s.write(ctx, "reserve idempotency key", func(tx *wtx) error {
		var done int
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT fingerprint, token, done, body, expires_at FROM idempotency WHERE key = ?`, key).
			Scan(&rec.Fingerprint, &rec.Token, &done, &rec.Body, &expires)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && expires > ns(now) {
			rec.Done, rec.ExpiresAt, reserved = done == 1, fromNS(expires), false
			return nil
		}
		rec = ports.IdempotencyRecord{Fingerprint: fingerprint, Token: rand.Text(), ExpiresAt: now.Add(hold)}
		reserved = true
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency (key, fingerprint, token, done, body, expires_at) VALUES (?, ?, ?, 0, NULL, ?)
			ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token, done = 0,
				body = NULL, expires_at = excluded.expires_at`, key, fingerprint, rec.Token, ns(rec.ExpiresAt))
		return err
	})
	if err != nil {
		return ports.IdempotencyRecord{}, false, err
	}
	return rec, reserved, nil
}

// Complete implements [ports.IdempotencyStore].
func (s *Store) Complete(ctx context.Context, key, token string, body []byte, expiresAt time.Time) error {
	return s.write(ctx, "complete idempotency record", func(tx *wtx) error {
		if body == nil {
			body = []byte{}
		}
		res, err := tx.ExecContext(ctx, `UPDATE idempotency SET done = 1, body = ?, expires_at = ? WHERE key = ? AND token = ? AND done = 0`,
			body, ns(expiresAt), key, token)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domainError{fmt.Errorf("the reservation is gone: %w", ports.ErrConflict)}
		}
		return nil
	})
}

// Release implements [ports.IdempotencyStore].
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.write(ctx, "release idempotency key", func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE key = ? AND token = ? AND done = 0`, key, token)
		return err
	})
}

// PurgeIdempotency implements [ports.IdempotencyStore].
func (s *Store) PurgeIdempotency(ctx context.Context, now time.Time, max int) (int, error) {
	return s.purge(ctx, "purge idempotency records",
		`DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= ? LIMIT ?)`, now, max)
}

func (s *Store) purge(ctx context.Context, op, query string, now time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, ctx.Err()
	}
	var n int64
	err := s.write(ctx, op, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, query, ns(now), max)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// BeginEvent implements [ports.EventDedup].
func (s *Store) BeginEvent(ctx context.Context, id string, now time.Time, hold time.Duration) (ports.DedupState, error) {
	var state ports.DedupState
	err := s.write(ctx, "begin bureau event", func(tx *wtx) error {
		var done int
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT done, expires_at FROM event_dedup WHERE id = ?`, id).Scan(&done, &expires)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && expires > ns(now) {
			state = ports.DedupBusy
			if done == 1 {
				state = ports.DedupDone
			}
			return nil
		}
		state = ports.DedupNew
		_, err = tx.ExecContext(ctx, `INSERT INTO event_dedup (id, done, expires_at) VALUES (?, 0, ?)
			ON CONFLICT (id) DO UPDATE SET done = 0, expires_at = excluded.expires_at`, id, ns(now.Add(hold)))
		return err
	})
	return state, err
}

// FinishEvent implements [ports.EventDedup].
func (s *Store) FinishEvent(ctx context.Context, id string, applied bool, keepUntil time.Time) error {
	return s.write(ctx, "finish bureau event", func(tx *wtx) error {
		var err error
		if applied {
			_, err = tx.ExecContext(ctx, `INSERT INTO event_dedup (id, done, expires_at) VALUES (?, 1, ?)
				ON CONFLICT (id) DO UPDATE SET done = 1, expires_at = excluded.expires_at`, id, ns(keepUntil))
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM event_dedup WHERE id = ? AND done = 0`, id)
		}
		return err
	})
}

// PurgeEvents implements [ports.EventDedup].
func (s *Store) PurgeEvents(ctx context.Context, now time.Time, max int) (int, error) {
	return s.purge(ctx, "purge bureau events",
		`DELETE FROM event_dedup WHERE id IN (SELECT id FROM event_dedup WHERE expires_at <= ? LIMIT ?)`, now, max)
}

// AcquireLease implements [ports.JobLeases]: one upsert that takes the job only when it is free,
// expired or already the holder's.
func (s *Store) AcquireLease(ctx context.Context, job, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var won bool
	err := s.write(ctx, "acquire job lease "+job, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO job_leases (job, holder, until) VALUES (?1, ?2, ?3)
			ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE job_leases.holder = excluded.holder OR job_leases.until <= ?4`, job, holder, ns(now.Add(ttl)), ns(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	return won, err
}

// ReleaseLease implements [ports.JobLeases].
func (s *Store) ReleaseLease(ctx context.Context, job, holder string) error {
	return s.write(ctx, "release job lease "+job, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM job_leases WHERE job = ? AND holder = ?`, job, holder)
		return err
	})
}
