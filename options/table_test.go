package options

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/ports"
	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
)

// TestOptionsCanGrow: a release adds an option to the table; today's scripts — the default
// script, a script with resolve, the example host's — still load with it, take the new option's
// default, and say so (DefaultsUsed). A script that gives the new option with the wrong type or
// misspells it is still refused.
func TestOptionsCanGrow(t *testing.T) {
	grown := append(Table(), Option{Name: "printBackside", Kind: KindBool, Default: false,
		Description: "true: the bureau prints the back of the card."})
	lim := Limits{}.WithDefaults()
	load := func(src string) (*Script, error) { return loadTable(src, lim, newPool(lim), grown) }
	for _, src := range []string{DefaultSource(), withResolve("var x = 1;"), honestScript} {
		is := is.New(t)
		s, err := load(src)
		is.NoErr(err)
		is.Equal(s.DefaultsUsed(), []string{"printBackside"})
		r, err := s.Resolve(context.Background(), operatorRequest())
		is.NoErr(err)
		is.True(len(r.Options.ProductionTypes) > 0)
	}
	// The grown table's default script has the new option, documented, and uses no default.
	is := is.New(t)
	src := defaultScript(grown)
	is.True(strings.Contains(src, "  // true: the bureau prints the back of the card.\n  printBackside: false\n"))
	s, err := load(src)
	is.NoErr(err)
	is.Equal(len(s.DefaultsUsed()), 0)
	// Wrong type, misspelt name: errors, never a silent default.
	_, err = load(strings.Replace(src, "printBackside: false", `printBackside: "no"`, 1))
	is.True(errors.Is(err, ErrInvalidScript))
	is.True(strings.Contains(err.Error(), "option printBackside: must be true or false"))
	_, err = load(strings.Replace(src, "printBackside: false", "printBackSide: false", 1))
	is.True(strings.Contains(err.Error(), "did you mean printBackside"))
	// A required option is still required.
	_, err = load(strings.Replace(src, "queueCards: true,", "", 1))
	is.True(strings.Contains(err.Error(), "option queueCards: missing option"))
	// resolve may leave the new option out too.
	s, err = load(withResolve("return Object.assign({}, options);"))
	is.NoErr(err)
	is.Equal(s.DefaultsUsed(), []string{"printBackside"})
}

// TestTableDrivesTheDefaults: the table's defaults are ports.DefaultOptions, the default script
// is rendered from the table, and the package documentation lists every option.
func TestTableDrivesTheDefaults(t *testing.T) {
	is := is.New(t)
	var o ports.Options
	for _, opt := range Table() {
		opt.set(&o, opt.Default)
		is.True(opt.Required) // the eight options of the first release
		is.True(strings.Contains(DefaultSource(), "  "+opt.Name+": "))
	}
	if d := cmp.Diff(ports.DefaultOptions(), o); d != "" {
		t.Fatalf("table defaults (-want +got):\n%s", d)
	}
	doc, err := os.ReadFile("doc.go")
	is.NoErr(err)
	for _, opt := range Table() {
		if !strings.Contains(string(doc), "//   - "+opt.Name+" (") {
			t.Errorf("doc.go does not list option %s", opt.Name)
		}
	}
	is.Equal(len(MustLoad(DefaultSource(), Limits{}).DefaultsUsed()), 0)
}
