package options_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// Each limit test here has its own deadline: a broken time or depth limit fails the test by name
// within seconds instead of hanging the test binary until go test's global timeout.

// limitDeadline is far above any limit's own bound (50 ms by default) and far below go test's
// timeout.
const limitDeadline = 10 * time.Second

// within runs f and fails t, naming what, unless f returns within limitDeadline. A run that
// overstays is left behind (it may spin until the binary exits): the test has failed by then.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(limitDeadline)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s did not end within %s: the limit does not stop it", what, limitDeadline)
		return nil
	}
}

func withUserResolve(body string) string {
	return strings.Replace(options.DefaultSource(), "enabled: false", "enabled: true", 1) +
		"\nfunction resolve(ctx) { if (ctx.user !== null && ctx.user.id === 'u-hostile') { " + body + " } return options; }\n"
}

func TestLimitsStopRunsWithinTheirDeadline(t *testing.T) {
	hostile := &ports.User{ID: "u-hostile", State: ports.UserActive}
	tests := []struct {
		name string
		body string // JavaScript run at load (top level) and, for a hostile user, in resolve
		want error
		lim  options.Limits
	}{
		{"endless loop", "while (true) {}", options.ErrTimeLimit, options.Limits{}},
		{"endless loop in a callback", "[1].forEach(function () { for (;;) {} });", options.ErrTimeLimit, options.Limits{}},
		// The depth limits are checked under a long time limit, so that a broken one cannot pass
		// for a time-limit stop (under -race on a loaded machine these runs can take a while).
		{"endless recursion", "(function f(n) { return f(n + 1) + 1; })(0);", options.ErrCallDepth, options.Limits{TimeLimit: 5 * time.Second}},
		{"JSON nested too deep", "JSON.parse('" + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "');", options.ErrSizeLimit, options.Limits{TimeLimit: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" at load", func(t *testing.T) {
			src := strings.Replace(options.DefaultSource(), "enabled: false", "enabled: true", 1) + "\n" + tt.body + "\n"
			err := within(t, "loading the script", func() error { _, err := options.Load(src, tt.lim); return err })
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load: %v, want %v", err, tt.want)
			}
		})
		t.Run(tt.name+" in resolve", func(t *testing.T) {
			s, err := options.Load(withUserResolve(tt.body), tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			// The context ends after the deadline too, so a broken limit leaves nothing running.
			ctx, cancel := context.WithTimeout(t.Context(), limitDeadline+5*time.Second)
			defer cancel()
			err = within(t, "resolving for the hostile user", func() error {
				_, err := s.Resolve(ctx, ports.OptionsRequest{User: hostile, Actor: ports.Actor{ID: "op"}, Channel: ports.ChannelOperator})
				return err
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Resolve: %v, want %v", err, tt.want)
			}
		})
	}
}
