package sqlite

import (
	"context"
	"database/sql"
)

// WriterConn takes the store's one writer connection, so a test can make writers wait.
func WriterConn(ctx context.Context, s *Store) (*sql.Conn, error) { return s.w.Conn(ctx) }

// WriterWaits is how many times a caller waited for the writer connection.
func WriterWaits(s *Store) int64 { return s.w.Stats().WaitCount }
