// Package outboxclaim reads what one claim statement of a durable store (adapters/sqlite,
// adapters/postgres) returned: the statement leases outbox rows in no order the database
// promises, and ports.Outbox hands them out oldest At first, then in the order written.
// Each store keeps its own SQL and its own decoding of a row; only this loop is shared.
package outboxclaim

import (
	"cmp"
	"slices"
	"time"
)

// Rows is the part of a query's result Collect uses: database/sql's *sql.Rows and pgx's Rows
// both have it.
type Rows interface {
	Next() bool
	Err() error
}

// Row is one claimed entry with what orders it: its At, then its sequence number (the order
// written).
type Row[T any] struct {
	Seq   int64
	At    time.Time
	Entry T
}

// Collect calls read for every row of rows (read scans the current row itself) and returns the
// entries oldest At first, then by sequence number. It stops at the first error of read or of
// rows and returns that error as it is, for the store to wrap.
func Collect[T any](rows Rows, read func() (Row[T], error)) ([]T, error) {
	var got []Row[T]
	for rows.Next() {
		r, err := read()
		if err != nil {
			return nil, err
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(got, func(a, b Row[T]) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq))
	})
	out := make([]T, len(got))
	for i := range got {
		out[i] = got[i].Entry
	}
	return out, nil
}
