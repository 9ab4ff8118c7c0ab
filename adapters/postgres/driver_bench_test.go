package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver, measured against pgxpool

	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/ports"
)

// base is the time the tests count from.
var base = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// benchCard is an open, queued card as the domain creates it.
func benchCard(id, user string, at time.Time) ports.Card {
	return ports.Card{
		ID: id, UserID: user, State: ports.StateProcessing, Channel: ports.ChannelOperator,
		ProductionType: "standard", LayoutID: "L-100", CommonName: "Ada Lovelace", UPN: "ada@corp.example",
		Email: "ada@example.com", OrderedBy: "operator-1", Options: ports.DefaultOptions(), Attempt: 1,
		Elements: map[string]string{"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "COMMON_NAME": "Ada Lovelace",
			"UPN": "ada@corp.example", "EMAIL": "ada@example.com", "ORGANISATION": "Corp"},
		QueuedAt: at, CreatedAt: at, UpdatedAt: at,
		History: []ports.HistoryEntry{{State: ports.StateRegistered, At: at, Actor: "operator-1"},
			{State: ports.StateProcessing, At: at, Actor: "operator-1"}},
	}
}

// BenchmarkDriver measures the driver choice on the write every order makes: an exclusive
// creation of one card with its audit event and notification, 16 callers at once.
//
//   - pgxpool: Store.Create, one pipelined batch (one round trip, one implicit transaction).
//   - database_sql: the same work as separate statements through pgx's database/sql driver:
//     BEGIN, the open-order check, three inserts, COMMIT (six round trips), as one would write
//     it without pgx's batches and array parameters.
func BenchmarkDriver(b *testing.B) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b.Run("pgxpool", func(b *testing.B) {
		s := openStore(b, newSchema(b), &postgres.Config{MaxConns: 16})
		var n atomic.Int64
		b.SetParallelism(8) // 16 callers on 2 CPUs
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := strconv.FormatInt(n.Add(1), 10)
				c := benchCard("card-"+i, "user-"+i, at)
				_, err := s.Create(context.Background(), ports.Creation{Cards: []ports.Card{c}, Exclusive: true,
					Events:        []ports.AuditEvent{{ID: "ev-" + i, CardID: c.ID, To: c.State, At: at}},
					Notifications: []ports.Notification{{ID: "n-" + i, CardID: c.ID, Kind: ports.NotifyCardOrdered, At: at}}})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
	b.Run("database_sql", func(b *testing.B) {
		s := newStore(b) // migrates the schema
		db, err := sql.Open("pgx", testURL(b)+"&search_path="+s.Schema())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		var lockClass int32
		if err := db.QueryRow(`SELECT hashtext('extprod.cards:' || current_schema())`).Scan(&lockClass); err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				i := strconv.FormatInt(n.Add(1), 10)
				c := benchCard("card-"+i, "user-"+i, at)
				if err := sqlCreate(ctx, db, lockClass, c, i, at); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
}

// sqlCreate is Store.Create's work written for database/sql.
func sqlCreate(ctx context.Context, db *sql.DB, lockClass int32, c ports.Card, i string, at time.Time) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	ev, _ := json.Marshal(ports.AuditEvent{ID: "ev-" + i, CardID: c.ID, To: c.State, At: at})
	note, _ := json.Marshal(map[string]any{"kind": ports.NotifyCardOrdered, "cardId": c.ID, "at": at})
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var free bool
	if err := tx.QueryRowContext(ctx, `SELECT extprod_open_order_free($1, ARRAY[$2], NULL)`, lockClass, c.UserID).Scan(&free); err != nil || !free {
		return fmt.Errorf("open-order check: %v, free %v", err, free)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO extprod_cards (id, user_id, state, version, queued_at, data)
		VALUES ($1, $2, $3, 1, $4, $5)`, c.ID, c.UserID, string(c.State), c.QueuedAt, data); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO extprod_events (id, at, data) VALUES ($1, $2, $3)`, "ev-"+i, at, ev); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO extprod_notifications (id, at, data) VALUES ($1, $2, $3)`, "n-"+i, at, note); err != nil {
		return err
	}
	return tx.Commit()
}
