package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardsaddon/extprod/ports"
)

// Script implements [ports.ScriptStore].
func (s *Store) Script(ctx context.Context) (source, version string, err error) {
	err = s.pool.QueryRow(ctx, `SELECT source, version FROM extprod_script`).Scan(&source, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("option script: %w", ports.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("option script: %w", mapErr(err))
	}
	return source, version, nil
}

// ReplaceScript implements [ports.ScriptStore]: an insert that conflicts with an installed script
// when expectVersion is empty, else an update of the row still at expectVersion; either way
// one statement, so of racing administrators exactly one wins.
func (s *Store) ReplaceScript(ctx context.Context, source, version, expectVersion string) error {
	if version == "" {
		return errors.New("replace option script: empty version")
	}
	var sql string
	args := []any{source, version}
	if expectVersion == "" {
		sql = `INSERT INTO extprod_script (source, version) VALUES ($1, $2) ON CONFLICT (one) DO NOTHING`
	} else {
		sql, args = `UPDATE extprod_script SET source = $1, version = $2 WHERE version = $3`, append(args, expectVersion)
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("replace option script: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("replace option script: installed version is not %q: %w", expectVersion, ports.ErrConflict)
	}
	return nil
}

// newToken returns a random reservation token.
func newToken() string {
	return rand.Text()
}

// reserveSQL stores a reservation unless a live record holds the key: a new key inserts, an
// expired record is overwritten, a live one is left alone (and no row is returned).
const reserveSQL = `
INSERT INTO extprod_idempotency AS r (key, fingerprint, token, done, body, expires_at)
VALUES ($1, $2, $3, false, NULL, $4)
ON CONFLICT (key) DO UPDATE
SET fingerprint = excluded.fingerprint, token = excluded.token, done = false, body = NULL, expires_at = excluded.expires_at
WHERE r.expires_at <= $5
RETURNING r.token`

// Reserve implements [ports.IdempotencyStore]. The insert-or-overwrite-if-expired is one
// statement, so of racing reservations exactly one stores its token; the others read the live
// record. A record that disappears between the two statements (released, or purged) is tried
// again.
func (s *Store) Reserve(ctx context.Context, key, fingerprint string, now time.Time, hold time.Duration) (ports.IdempotencyRecord, bool, error) {
	for {
		token := newToken()
		rec := ports.IdempotencyRecord{Fingerprint: fingerprint, Token: token, ExpiresAt: now.Add(hold)}
		var got string
		err := s.pool.QueryRow(ctx, reserveSQL, key, fingerprint, token, rec.ExpiresAt, now).Scan(&got)
		if err == nil {
			return rec, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return ports.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key: %w", mapErr(err))
		}
		var live ports.IdempotencyRecord
		err = s.pool.QueryRow(ctx, `SELECT fingerprint, token, done, body, expires_at FROM extprod_idempotency
			WHERE key = $1 AND expires_at > $2`, key, now).Scan(&live.Fingerprint, &live.Token, &live.Done, &live.Body, &live.ExpiresAt)
		if err == nil {
			live.ExpiresAt = live.ExpiresAt.UTC()
			return live, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return ports.IdempotencyRecord{}, false, fmt.Errorf("read idempotency key: %w", mapErr(err))
		}
		if err := ctx.Err(); err != nil {
			return ports.IdempotencyRecord{}, false, err
		}
	}
}

// Complete implements [ports.IdempotencyStore].
func (s *Store) Complete(ctx context.Context, key, token string, body []byte, expiresAt time.Time) error {
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE extprod_idempotency SET done = true, body = $3, expires_at = $4
		WHERE key = $1 AND token = $2 AND NOT done`, key, token, body, expiresAt)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("complete idempotency key: the reservation is gone: %w", ports.ErrConflict)
	}
	return nil
}

// Release implements [ports.IdempotencyStore].
func (s *Store) Release(ctx context.Context, key, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM extprod_idempotency WHERE key = $1 AND token = $2 AND NOT done`, key, token)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", mapErr(err))
	}
	return nil
}

// PurgeIdempotency implements [ports.IdempotencyStore].
func (s *Store) PurgeIdempotency(ctx context.Context, now time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, ctx.Err()
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM extprod_idempotency WHERE key IN (
		SELECT key FROM extprod_idempotency WHERE expires_at <= $1 LIMIT $2)`, now, max)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency records: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

const beginEventSQL = `
INSERT INTO extprod_event_dedup AS d (id, done, expires_at) VALUES ($1, false, $2)
ON CONFLICT (id) DO UPDATE SET done = false, expires_at = excluded.expires_at
WHERE d.expires_at <= $3
RETURNING true`

// BeginEvent implements [ports.EventDedup], with the same insert-or-overwrite-if-expired
// statement as [Store.Reserve].
func (s *Store) BeginEvent(ctx context.Context, id string, now time.Time, hold time.Duration) (ports.DedupState, error) {
	for {
		var ok bool
		err := s.pool.QueryRow(ctx, beginEventSQL, id, now.Add(hold), now).Scan(&ok)
		if err == nil {
			return ports.DedupNew, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("begin bureau event: %w", mapErr(err))
		}
		var done bool
		err = s.pool.QueryRow(ctx, `SELECT done FROM extprod_event_dedup WHERE id = $1 AND expires_at > $2`, id, now).Scan(&done)
		switch {
		case err == nil && done:
			return ports.DedupDone, nil
		case err == nil:
			return ports.DedupBusy, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return 0, fmt.Errorf("read bureau event: %w", mapErr(err))
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// FinishEvent implements [ports.EventDedup].
func (s *Store) FinishEvent(ctx context.Context, id string, applied bool, keepUntil time.Time) error {
	var err error
	if applied {
		_, err = s.pool.Exec(ctx, `UPDATE extprod_event_dedup SET done = true, expires_at = $2 WHERE id = $1`, id, keepUntil)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM extprod_event_dedup WHERE id = $1 AND NOT done`, id)
	}
	if err != nil {
		return fmt.Errorf("finish bureau event: %w", mapErr(err))
	}
	return nil
}

// PurgeEvents implements [ports.EventDedup].
func (s *Store) PurgeEvents(ctx context.Context, now time.Time, max int) (int, error) {
	if max <= 0 {
		return 0, ctx.Err()
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM extprod_event_dedup WHERE id IN (
		SELECT id FROM extprod_event_dedup WHERE expires_at <= $1 LIMIT $2)`, now, max)
	if err != nil {
		return 0, fmt.Errorf("purge bureau events: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// AcquireLease implements [ports.JobLeases]: one insert-or-take-over statement.
func (s *Store) AcquireLease(ctx context.Context, job, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `
INSERT INTO extprod_job_leases AS l (job, holder, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.expires_at <= $4 OR l.holder = excluded.holder
RETURNING true`, job, holder, now.Add(ttl), now).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease of job %s: %w", job, mapErr(err))
	}
	return true, nil
}

// ReleaseLease implements [ports.JobLeases].
func (s *Store) ReleaseLease(ctx context.Context, job, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM extprod_job_leases WHERE job = $1 AND holder = $2`, job, holder); err != nil {
		return fmt.Errorf("release lease of job %s: %w", job, mapErr(err))
	}
	return nil
}
