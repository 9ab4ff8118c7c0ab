package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// demoScript is the option script installed at start when -script is not given.
//
//go:embed demo.js
var demoScript string

// engineScripts adapts the options package's engine to the handler's script endpoints.
type engineScripts struct {
	e *options.Engine
}

var _ httpapi.Scripts = engineScripts{}

// newOptions starts the option script engine over an in-memory script store and installs src
// (the demo script when empty). The engine is the domain's options source and, through
// engineScripts, serves the script endpoints.
func newOptions(ctx context.Context, src string, log *slog.Logger) (ports.OptionsSource, httpapi.Scripts, error) {
	if src == "" {
		src = demoScript
	}
	e, err := options.NewEngine(ctx, &memory.Scripts{}, nil)
	if err != nil {
		return nil, nil, err
	}
	s := engineScripts{e: e}
	version, err := s.Install(ctx, src, "")
	if err != nil {
		return nil, nil, fmt.Errorf("-script: %w", err)
	}
	log.Info("option script installed", "version", version)
	return e, s, nil
}

// Current implements httpapi.Scripts.
func (s engineScripts) Current(ctx context.Context) (string, string, error) {
	src, version := s.e.Current(ctx)
	return src, version, nil
}

// maxUnconditionalTries bounds the retries of an install without If-Match that keeps losing to
// concurrent installs.
const maxUnconditionalTries = 3

// Install implements httpapi.Scripts. Without ifMatch it replaces whatever is in force: the
// version in force is read and named, and the install retried if another one won meanwhile.
func (s engineScripts) Install(ctx context.Context, src, ifMatch string) (string, error) {
	if ifMatch != "" {
		return s.e.Install(ctx, src, ifMatch)
	}
	for try := 1; ; try++ {
		_, current := s.e.Current(ctx)
		version, err := s.e.Install(ctx, src, current)
		if !errors.Is(err, ports.ErrConflict) || try == maxUnconditionalTries {
			return version, err
		}
	}
}

// Load implements httpapi.Scripts for dry runs: the script is loaded, checked and returned as an
// options source, not installed.
func (s engineScripts) Load(_ context.Context, src string) (ports.OptionsSource, error) {
	// The default limits, like the engine's (newOptions gives it no EngineConfig).
	sc, err := options.Load(src, options.Limits{})
	if err != nil {
		return nil, err
	}
	return sc, nil
}
