package sqlite

// HoldWriter takes the writer for the test, so writers queue, until release is called.
func HoldWriter(s *Store) (release func()) {
	s.q.leader <- struct{}{}
	return func() { <-s.q.leader }
}

// QueuedWrites is how many writes wait for the writer.
func QueuedWrites(s *Store) int64 { return s.q.queued.Load() }
