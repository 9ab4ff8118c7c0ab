package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cardsaddon/extprod/ports"
)

// Creations of one card with one audit event and no notifications — every order — are
// gathered into shared transactions: the creations that wait at the same moment are written by
// one pipelined batch and committed together, so that they share the round trip, the commit and
// its WAL flush, which cost the server and this process more than the inserts themselves
// (BENCHMARKS.md). Nothing waits for company: a creation that finds a writer free is written at
// once, alone; creations that arrive while all writers are busy queue up and go together when
// the next writer is free.
//
// Each creation keeps its own outcome. The batch starts by taking the per-user locks of every
// exclusive creation in it (extprod_lock_users, sorted, so two batches cannot deadlock); then
// each card's statement inserts the card only when its user has no open card (for an exclusive
// creation) and, reading the inserted row, its event, and answers whether it inserted. A refused
// order so writes nothing and fails alone, and a later creation for the same user in the same
// batch sees an earlier one's card. When the batch fails on the server (a card id already
// stored), nothing of it was committed and each creation is written again alone, so only the
// faulty one fails. A creation whose caller gives up while it still waits is dropped.
const (
	// maxGroup caps the creations of one shared transaction.
	maxGroup = 32
	// groupTimeout bounds the writing of one shared transaction: it does not run under any one
	// caller's context, as the callers it serves wait on their own.
	groupTimeout = time.Minute
)

// createOneSQL and createOwnSQL are the statement of one card and its audit event in a shared
// transaction; createOwnSQL, for an exclusive creation, inserts the card only when its user has
// no open card. Both answer whether the card was inserted. (They take the event as scalar
// parameters, not arrays, and there is one text per kind: with array parameters or a flag, the
// server planned them anew on every execution, which doubled its work per order.)
const (
	createOneSQL = `
WITH c AS (
    INSERT INTO extprod_cards (id, user_id, state, version, queued_at, not_before, lease_until,
                               dispatch_started, provider_order_id, data, photo)
    VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10)
    RETURNING 1
), e AS (
    INSERT INTO extprod_events (id, at, data) SELECT $11, $12, $13 FROM c ON CONFLICT (id) DO NOTHING
)
SELECT count(*) FROM c`
	createOwnSQL = `
WITH c AS (
    INSERT INTO extprod_cards (id, user_id, state, version, queued_at, not_before, lease_until,
                               dispatch_started, provider_order_id, data, photo)
    SELECT $1::text, $2::text, $3::text, 1, $4::timestamptz, $5::timestamptz, $6::timestamptz,
           $7::boolean, $8::text, $9::json, $10::bytea
    WHERE NOT EXISTS (SELECT 1 FROM extprod_cards
                      WHERE user_id = $2 AND state IN ('requested', 'processing', 'ordered', 'in_production'))
    RETURNING 1
), e AS (
    INSERT INTO extprod_events (id, at, data) SELECT $11::text, $12::timestamptz, $13::json FROM c
    ON CONFLICT (id) DO NOTHING
)
SELECT count(*) FROM c`
)

// lockUsersSQL takes the per-user locks of the exclusive creations of a shared transaction.
const lockUsersSQL = `SELECT extprod_lock_users($1, $2)`

// Pending creation states.
const (
	pendingQueued int32 = iota
	pendingTaken
	pendingAbandoned
)

// pendingCreate is a one-card creation waiting for its shared transaction.
type pendingCreate struct {
	card      ports.Card // Version set
	exclusive bool
	args      []any        // createOneSQL's arguments
	state     atomic.Int32 // pendingQueued, pendingTaken, pendingAbandoned
	done      chan error   // buffered: the writer never waits for the caller
}

// groups gathers one-card creations into shared transactions.
type groups struct {
	queue   chan *pendingCreate
	writers chan struct{} // a token per writer at work
}

func newGroups(writers int) *groups {
	return &groups{queue: make(chan *pendingCreate, 4*maxGroup), writers: make(chan struct{}, max(writers, 1))}
}

// createOne writes a creation of one card with one audit event and no notifications (every
// order) through a shared transaction.
func (s *Store) createOne(ctx context.Context, c ports.Creation) ([]ports.Card, error) {
	p, err := newPending(c)
	if err != nil {
		return nil, err
	}
	select {
	case s.groups.queue <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.startWriter()
	select {
	case err := <-p.done:
		if err != nil {
			return nil, fmt.Errorf("create card %s: %w", p.card.ID, err)
		}
		return []ports.Card{p.card}, nil
	case <-ctx.Done():
		// Taken already: the outcome is unknown, as for any write whose caller gave up.
		p.state.CompareAndSwap(pendingQueued, pendingAbandoned)
		return nil, ctx.Err()
	}
}

func newPending(c ports.Creation) (*pendingCreate, error) {
	card := c.Cards[0]
	card.Version = 1
	d, err := encodeCard(&card)
	if err != nil {
		return nil, err
	}
	var ev eventRows
	for i := range c.Events {
		if err := ev.add(&c.Events[i]); err != nil {
			return nil, err
		}
	}
	exclusive := c.Exclusive && card.UserID != ""
	return &pendingCreate{
		card: card, exclusive: exclusive, done: make(chan error, 1),
		args: []any{card.ID, text(card.UserID), string(card.State), ts(card.QueuedAt), ts(card.NotBefore),
			ts(card.LeaseUntil), card.DispatchStarted, text(card.ProviderOrderID), d, card.Photo,
			ev.ids[0], ev.ats[0], ev.data[0]},
	}, nil
}

// startWriter starts a writer when one is free; else a busy writer takes the queue when done.
func (s *Store) startWriter() {
	select {
	case s.groups.writers <- struct{}{}:
		go s.write()
	default:
	}
}

// write writes shared transactions while creations are queued, then gives its token back. A
// creation queued after the last look but before the token was back finds no free writer when it
// looks; so after giving the token back the writer looks once more.
func (s *Store) write() {
	for {
		for {
			group := s.takeGroup()
			if len(group) == 0 {
				break
			}
			s.writeGroup(group)
		}
		<-s.groups.writers
		if len(s.groups.queue) == 0 {
			return
		}
		select {
		case s.groups.writers <- struct{}{}:
		default:
			return // another writer is at work and will look again when done
		}
	}
}

// takeGroup takes up to maxGroup queued creations whose callers still wait.
func (s *Store) takeGroup() []*pendingCreate {
	var group []*pendingCreate
	for len(group) < maxGroup {
		select {
		case p := <-s.groups.queue:
			if p.state.CompareAndSwap(pendingQueued, pendingTaken) {
				group = append(group, p)
			}
		default:
			return group
		}
	}
	return group
}

// writeGroup writes group in one transaction and tells each creation its outcome. When the
// server refused the transaction, nothing was written, and each creation is written again alone.
func (s *Store) writeGroup(group []*pendingCreate) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	outs, err := s.sendGroup(ctx, group)
	var pgErr *pgconn.PgError
	if err != nil && len(group) > 1 && errors.As(err, &pgErr) {
		for _, p := range group {
			outs, err := s.sendGroup(ctx, []*pendingCreate{p})
			p.done <- outcome(outs, err, 0)
		}
		return
	}
	for i, p := range group {
		p.done <- outcome(outs, err, i)
	}
}

// outcome is the outcome of the i-th creation of a batch that failed with err or else answered
// outs.
func outcome(outs []error, err error, i int) error {
	if err != nil {
		return mapErr(err)
	}
	return outs[i]
}

// sendGroup sends one batch for group and, when it committed, answers each creation's outcome:
// nil, or ErrOpenOrderExists for a refused one.
func (s *Store) sendGroup(ctx context.Context, group []*pendingCreate) ([]error, error) {
	b := &pgx.Batch{}
	var users []string
	for _, p := range group {
		if p.exclusive && !slices.Contains(users, p.card.UserID) {
			users = append(users, p.card.UserID)
		}
	}
	if len(users) > 0 {
		b.Queue(lockUsersSQL, s.lockClass, users)
	}
	for _, p := range group {
		if p.exclusive {
			b.Queue(createOwnSQL, p.args...)
		} else {
			b.Queue(createOneSQL, p.args...)
		}
	}
	br := s.pool.SendBatch(ctx, b)
	if len(users) > 0 {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	outs := make([]error, len(group))
	for i := range group {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			_ = br.Close()
			return nil, err
		}
		if n == 0 {
			outs[i] = ports.ErrOpenOrderExists
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return outs, nil
}
