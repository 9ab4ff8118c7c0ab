package main

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/options"
)

// demoScript is the option script installed at start when -script is not given.
//
//go:embed demo.js
var demoScript string

// newOptions starts the option script engine over an in-memory script store and installs src
// (the demo script when empty). The engine is both the domain's options source and the script
// endpoints' ports.ScriptAdmin: no adapter is needed.
func newOptions(ctx context.Context, src string, log *slog.Logger) (*options.Engine, error) {
	if src == "" {
		src = demoScript
	}
	e, err := options.NewEngine(ctx, &memory.Scripts{}, nil)
	if err != nil {
		return nil, err
	}
	version, err := e.Install(ctx, src, "")
	if err != nil {
		return nil, fmt.Errorf("-script: %w", err)
	}
	log.Info("option script installed", "version", version)
	return e, nil
}
