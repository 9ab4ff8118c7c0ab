package portstest

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// RunScriptStore runs the conformance suite of [ports.ScriptStore] as subtests of t: not found
// when empty, install on empty, compare-and-set replacement, and a race of administrators
// replacing the same version. newStore is called once per subtest and must return a store with
// no script installed.
func RunScriptStore(t *testing.T, newStore func(t *testing.T) ports.ScriptStore) {
	t.Helper()
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s ports.ScriptStore)
	}{
		{"EmptyNotFound", testScriptEmpty},
		{"InstallOnEmpty", testScriptInstall},
		{"ExpectVersionOnEmpty", testScriptExpectOnEmpty},
		{"ReplaceCompareAndSet", testScriptReplace},
		{"InstallRace", func(t *testing.T, s ports.ScriptStore) { testScriptRace(t, s, "") }},
		{"ReplaceRace", func(t *testing.T, s ports.ScriptStore) { testScriptRace(t, s, "v-base") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("portstest: the script store constructor returned nil")
			}
			tt.fn(t, s)
		})
	}
}

const (
	script1 = "var options = { enabled: true };\n"
	script2 = "var options = { enabled: false };\n"
)

// wantScript fails the test unless the store holds source and version.
func wantScript(t *testing.T, s ports.ScriptStore, source, version string) {
	t.Helper()
	gotSource, gotVersion, err := s.Script(t.Context())
	if err != nil {
		t.Fatalf("Script: %v", err)
	}
	if gotSource != source || gotVersion != version {
		t.Fatalf("Script = (%q, %q), want (%q, %q)", gotSource, gotVersion, source, version)
	}
}

func testScriptEmpty(t *testing.T, s ports.ScriptStore) {
	_, _, err := s.Script(t.Context())
	wantErr(t, "Script of an empty store", err, ports.ErrNotFound)
}

func testScriptInstall(t *testing.T, s ports.ScriptStore) {
	if err := s.ReplaceScript(t.Context(), script1, "v1", ""); err != nil {
		t.Fatalf("ReplaceScript expecting no script, on an empty store: %v", err)
	}
	wantScript(t, s, script1, "v1")
}

func testScriptExpectOnEmpty(t *testing.T, s ports.ScriptStore) {
	err := s.ReplaceScript(t.Context(), script1, "v1", "v0")
	wantErr(t, "ReplaceScript expecting a version, on an empty store", err, ports.ErrConflict)
	_, _, err = s.Script(t.Context())
	wantErr(t, "Script after a refused install", err, ports.ErrNotFound)
}

func testScriptReplace(t *testing.T, s ports.ScriptStore) {
	ctx := t.Context()
	if err := s.ReplaceScript(ctx, script1, "v1", ""); err != nil {
		t.Fatalf("ReplaceScript on an empty store: %v", err)
	}
	err := s.ReplaceScript(ctx, script2, "v2", "")
	wantErr(t, "ReplaceScript expecting no script while one is installed", err, ports.ErrConflict)
	wantScript(t, s, script1, "v1")
	err = s.ReplaceScript(ctx, script2, "v2", "v0")
	wantErr(t, "ReplaceScript expecting a stale version", err, ports.ErrConflict)
	wantScript(t, s, script1, "v1")

	if err := s.ReplaceScript(ctx, script2, "v2", "v1"); err != nil {
		t.Fatalf("ReplaceScript expecting the installed version: %v", err)
	}
	wantScript(t, s, script2, "v2")
	err = s.ReplaceScript(ctx, script1, "v3", "v1")
	wantErr(t, "ReplaceScript expecting the version replaced before", err, ports.ErrConflict)
	wantScript(t, s, script2, "v2")

	// Reinstalling the first content under its version is a replacement like any other.
	if err := s.ReplaceScript(ctx, script1, "v1", "v2"); err != nil {
		t.Fatalf("ReplaceScript back to the first script: %v", err)
	}
	wantScript(t, s, script1, "v1")
}

func testScriptRace(t *testing.T, s ports.ScriptStore, from string) {
	ctx := t.Context()
	if from != "" {
		if err := s.ReplaceScript(ctx, script1, from, ""); err != nil {
			t.Fatalf("ReplaceScript on an empty store: %v", err)
		}
	}
	const n = 100
	errs := make([]error, n)
	start := make(chan struct{})
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			<-start
			errs[i] = s.ReplaceScript(ctx, fmt.Sprintf("// administrator %d\n%s", i, script2), fmt.Sprintf("v-admin-%d", i), from)
			return nil
		})
	}
	close(start)
	_ = g.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two racing replacements of version %q succeeded: administrators %d and %d", from, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ports.ErrConflict):
			t.Fatalf("racing ReplaceScript: got error %v, want nil or errors.Is(err, ports.ErrConflict)", err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d racing replacements of the installed version %q succeeded", n, from)
	}
	wantScript(t, s, fmt.Sprintf("// administrator %d\n%s", winner, script2), fmt.Sprintf("v-admin-%d", winner))
}
