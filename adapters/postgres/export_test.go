package postgres

// MigrationLockClass is the first key of the migration lock, for tests that hold it.
const MigrationLockClass = migrationLockClass

// Migrations returns the names of the embedded migrations in order, for tests.
func Migrations() ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names, nil
}
