package migrations_test

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/internal/migrations"
)

func TestLoad(t *testing.T) {
	is := is.New(t)
	fsys := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("B")},
		"m/0001_init.sql":  {Data: []byte("A")},
		"m/README.txt":     {Data: []byte("not a migration")},
		"other/0001_x.sql": {Data: []byte("elsewhere")},
	}
	got, err := migrations.Load(fsys, "m")
	is.NoErr(err)
	want := []migrations.Migration{{Version: 1, Name: "0001_init", SQL: "A"}, {Version: 2, Name: "0002_more", SQL: "B"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Load (-want +got):\n%s", d)
	}
}

func TestLoadRefusesGapsAndBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no digit": {"m/init.sql": {}},
		"no name":  {"m/0001.sql": {}},
		"from 2":   {"m/0002_b.sql": {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := migrations.Load(fsys, "m"); err == nil {
				t.Fatal("Load accepted it, want an error naming the file")
			}
		})
	}
}
