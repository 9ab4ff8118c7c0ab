package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// demoScript is the option script installed at the first start when -script is not given.
//
//go:embed demo.js
var demoScript string

// newOptions starts the option script engine over the store's script store. When the store
// holds no script yet (the first start), it installs src (the demo script when empty); later
// the store's script stays in force, changed only through the admin API, and src is ignored.
// The engine is both the domain's options source and the script endpoints' ports.ScriptAdmin.
func newOptions(ctx context.Context, store ports.ScriptStore, lim options.Limits, src string, fromFlag bool, log *slog.Logger) (*options.Engine, error) {
	_, stored, err := store.Script(ctx)
	switch {
	case errors.Is(err, ports.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("option script: %w", err)
	}
	e, err := options.NewEngine(ctx, store, &options.EngineConfig{Limits: lim})
	if err != nil {
		return nil, err
	}
	if stored != "" {
		if fromFlag {
			log.Warn("-script ignored: the store holds an option script already; change it through the admin API", "version", stored)
		}
		if err := e.Healthy(ctx); err != nil {
			log.Error("the stored option script does not load; orders fail until an administrator installs one that does", "version", stored, "err", err)
		} else {
			log.Info("option script from the store", "version", stored)
		}
		return e, nil
	}
	if src == "" {
		src = demoScript
	}
	_, current, err := e.Current(ctx)
	if err != nil {
		return nil, err
	}
	version, err := e.Install(ctx, src, current)
	if errors.Is(err, ports.ErrConflict) {
		// Another instance on the same store installed one first: it stays.
		log.Info("option script installed by another instance meanwhile; it stays")
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("-script: %w", err)
	}
	log.Info("option script installed", "version", version)
	return e, nil
}
