// Package migrations reads the numbered schema steps that the database adapters embed, so the
// SQLite and PostgreSQL stores share one reading of "migrations/NNNN_name.sql" (each keeps its
// own SQL and its own way of applying it).
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one schema step: the file NNNN_name.sql is Version NNNN, named NNNN_name.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the *.sql files of dir in fsys in version order. Their names must be
// NNNN_name.sql, numbered from 1 without gaps; anything else is an error naming the file.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for i, f := range files { // Glob returns names sorted
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want the name %04d_<name>.sql", base, i+1)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql"), SQL: string(b)})
	}
	return out, nil
}
