package options

import (
	"context"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// The domain's observer learns which limit stopped a script through ports.ScriptLimitOf, without
// importing this package: a failed order's error names the limit, any other failure names none.
func TestScriptErrorNamesItsLimit(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"time", "while (true) {}", ports.LimitTime},
		{"depth", "(function f() { f(); })();", ports.LimitDepth},
		{"size", "'x'.repeat(1e9);", ports.LimitSize},
		{"throw", "throw new Error('no');", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			src := DefaultSource() + "\nfunction resolve(ctx) { if (ctx.user && ctx.user.id === 'u-1') { " + tc.body + " } return options; }"
			s, err := Load(src, Limits{})
			is.NoErr(err)
			_, err = s.Resolve(context.Background(), operatorRequest())
			is.True(err != nil)
			is.Equal(ports.ScriptLimitOf(err), tc.want)
		})
	}
}
