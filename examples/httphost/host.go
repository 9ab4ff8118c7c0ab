package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/options"
)

// demoEventsSecret signs the in-process fake bureau's status events when no secret is given.
const demoEventsSecret = "demo-events-secret"

// shutdownTimeout bounds how long in-flight requests may take to finish at shutdown.
const shutdownTimeout = 15 * time.Second

// The server's write timeout and the bounds of one bureau call. A direct order (and a refresh
// or status sync) waits for the bureau inside a request, so one call must end well before
// writeTimeout or the connection is cut under a request that did its work. With the gocards
// defaults (5 attempts of up to 20 s, Retry-After waits of up to 30 s) a call could take
// minutes. Here it makes at most bureauAttempts attempts of at most bureauAttemptTimeout each
// (plus one token fetch, bounded the same, when a token is due), with sub-second backoff
// between them, and waits out a 429's Retry-After only up to bureauRetryAfterCap (a longer one
// ends the call and the domain holds the card back): 3×10 s + 2×5 s = 40 s, plus 10 s for a
// token. The domain also bounds a direct send itself (cardorder.Config.DirectOrderTimeout,
// default 20 s; the card then stays queued for the dispatcher).
const (
	writeTimeout         = 60 * time.Second
	bureauAttempts       = 3
	bureauAttemptTimeout = 10 * time.Second
	bureauRetryAfterCap  = 5 * time.Second
)

// host is a running example host. Tests reach its parts through runWith's hook.
type host struct {
	addr    string // the address it listens on
	svc     *cardorder.Service
	backend *backend
	fake    *gocardsfake.Server // nil with -gocards-url
	secret  []byte              // the events secret; nil: no events endpoint
	engine  *options.Engine
	bureau  *observedProvider
	// metricsAddr is where /metrics is served alone (-metrics-addr); "" when not.
	metricsAddr string
}

// run runs the host until ctx ends, then shuts it down gracefully. Its first line on stdout is
// "listening on http://ADDR".
func run(ctx context.Context, args []string, stdout io.Writer) error {
	return runWith(ctx, args, stdout, os.Stderr, hooks{getenv: os.Getenv})
}

// hooks let a test reach into a running host.
type hooks struct {
	// getenv reads the environment variables that stand in for flags; nil reads none.
	getenv func(string) string
	// ready is called once the host serves.
	ready func(*host)
	// afterPass is called after every background dispatch pass.
	afterPass func(cardorder.DispatchResult, error)
	// wrap, when set, wraps the API handler.
	wrap func(http.Handler) http.Handler
	// wrapBureau, when set, wraps the in-process fake bureau's handler.
	wrapBureau func(http.Handler) http.Handler
	// onShutdown is called when the graceful shutdown begins.
	onShutdown func()
	// scriptLimits, when not zero, replace the option scripts' default limits (tests under the
	// race detector on a loaded machine need a longer time limit).
	scriptLimits options.Limits
	// jobsStopping is called once the background jobs were told to stop (after the server),
	// before the host waits for them.
	jobsStopping func()
}

// runWith is run with the log destination and test hooks.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, hk hooks) error {
	f, err := parseFlags(args, stderr, hk.getenv)
	if err != nil {
		return err
	}
	var lh slog.Handler = slog.NewTextHandler(stderr, nil)
	if f.logFormat == "json" {
		lh = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(lh)
	if f.gocardsURL != "" && f.eventsSecret == "" {
		log.Warn("-gocards-url without -gocards-events-secret: POST /v1/gocards/events is not served; " +
			"cards advance only by refresh and status sync")
	}

	seedBytes := demoSeed
	if f.seedFile != "" {
		if seedBytes, err = os.ReadFile(f.seedFile); err != nil {
			return fmt.Errorf("-seed: %w", err)
		}
	}
	sd, err := parseSeed(seedBytes)
	if err != nil {
		return err
	}
	var script string
	if f.scriptFile != "" {
		b, err := os.ReadFile(f.scriptFile)
		if err != nil {
			return fmt.Errorf("-script: %w", err)
		}
		script = string(b)
		if _, err := options.Load(script, hk.scriptLimits); err != nil {
			return fmt.Errorf("-script: %w", err)
		}
	}

	// Everything started below stops when stopAll runs, in reverse order.
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer stopAll()

	spec, _ := parseStore(f.store) // checked by parseFlags
	be, err := openBackend(ctx, spec)
	if err != nil {
		return err
	}
	stops = append(stops, be.close)
	h := &host{backend: be}
	var met *metrics
	if f.metrics {
		if met, err = newMetrics(); err != nil {
			return err
		}
		stops = append(stops, met.stop)
	}
	provider, err := h.startBureau(ctx, f, log, hk.wrapBureau, &stops)
	if err != nil {
		return err
	}
	h.bureau = newObservedProvider(provider)
	engine, err := newOptions(ctx, be.scripts, hk.scriptLimits, script, f.scriptFile != "", log)
	if err != nil {
		return err
	}
	h.engine = engine
	dir, usersFrom, err := users(f, sd, log)
	if err != nil {
		return err
	}
	mail, mailTo, err := mailer(f, dir, log)
	if err != nil {
		return err
	}
	auth, authBy, err := authenticator(ctx, f, sd, log)
	if err != nil {
		return err
	}
	cfg := &cardorder.Config{Logger: log}
	if met != nil {
		cfg.Observer = met.obs // (the HTTP API reports its authentications to it: not wrapped again)
	}
	// The HTTP API's idempotency records and the bureau events' dedup entries are purged by the
	// Service's clean-up, which the relay runs (docs/use-case.md §8).
	svc, err := cardorder.New(cardorder.Ports{
		Users: dir, Store: be.store, Provider: h.bureau, Options: engine, Mailer: mail, Audit: &memory.AuditLog{},
		Leases: be.leases, Idempotency: be.idem, Dedup: be.dedup,
	}, cfg)
	if err != nil {
		return err
	}
	h.svc = svc
	if met != nil {
		reg, err := met.obs.ObserveStats(svc)
		if err != nil {
			return fmt.Errorf("-metrics: %w", err)
		}
		stops = append(stops, func() { _ = reg.Unregister() })
	}

	var events http.Handler
	if len(h.secret) > 0 {
		if events, err = gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: h.secret, Applier: svc, Dedup: be.dedup, Logger: log}); err != nil {
			return err
		}
	}
	api, err := httpapi.New(httpapi.Config{Service: svc, Auth: auth, Scripts: engine, Events: events, Idempotency: be.idem, Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", readyz(be.ping, engine.Healthy, h.bureau))
	switch {
	case met == nil:
	case f.metricsAddr != "":
		addr, stop, err := serveMetrics(f.metricsAddr, met.handler, log)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
		h.metricsAddr = addr
		log.Info("metrics", "addr", addr)
	default:
		mux.Handle("GET /metrics", met.handler)
	}
	if met != nil {
		api = met.obs.Handler(api, "extprod.api")
	}
	mux.Handle("/", api)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	h.addr = ln.Addr().String()
	if _, err := fmt.Fprintf(stdout, "listening on http://%s\n", h.addr); err != nil {
		ln.Close()
		return err
	}
	if h.fake != nil {
		h.fake.SetCallback("http://"+h.addr+"/v1/gocards/events", h.secret)
	}
	var handler http.Handler = mux
	if hk.wrap != nil {
		handler = hk.wrap(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Must exceed the slowest answer, a direct bureau order: see writeTimeout.
		WriteTimeout: writeTimeout,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if hk.onShutdown != nil {
		srv.RegisterOnShutdown(hk.onShutdown)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", "addr", h.addr, "store", be.spec.String(), "users", usersFrom, "mail", mailTo, "auth", authBy,
		"dispatch_interval", f.dispatchInterval.String(), "fake_bureau", h.fake != nil)

	// The dispatcher runs the outbox relay (mail, audit events, clean-up) alongside; without
	// it, the relay runs alone, so mail still leaves — also the mail a previous run left pending.
	dctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if f.dispatchInterval > 0 {
		d := svc.NewDispatcher(&cardorder.DispatcherConfig{Interval: f.dispatchInterval, AfterPass: hk.afterPass})
		wg.Go(func() { _ = d.Run(dctx) })
	} else {
		wg.Go(func() { _ = svc.NewRelay(nil).Run(dctx) })
	}
	// Stops after the server and before the bureau and the store: a dispatch pass in flight
	// finishes its cards and records their outcome.
	stops = append(stops, func() {
		stopJobs()
		if hk.jobsStopping != nil {
			hk.jobsStopping()
		}
		wg.Wait()
		log.Info("background jobs stopped")
	})
	if hk.ready != nil {
		hk.ready(h)
	}

	select {
	case err = <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		srv.Close()
	}
	<-serveErr
	return nil
}

// startBureau returns the GO Cards client of a real bureau, or of an in-process fake it starts
// (and registers to stop). The fake keeps its orders in the store's data folder, when it has
// one, so a restarted host finds the orders it placed.
func (h *host) startBureau(ctx context.Context, f flags, log *slog.Logger, wrap func(http.Handler) http.Handler, stops *[]func()) (*gocards.Client, error) {
	cfg := clientConfig(f, log)
	if f.eventsSecret != "" {
		h.secret = []byte(f.eventsSecret)
	}
	if f.gocardsURL == "" {
		if h.secret == nil {
			h.secret = []byte(demoEventsSecret)
		}
		h.fake = gocardsfake.New(gocardsfake.Config{EventSecret: h.secret})
		if h.backend.dataDir != "" {
			path := filepath.Join(h.backend.dataDir, fakeFile)
			if err := h.fake.Persist(path, func(err error) { log.Error("fake bureau: keeping its orders", "err", err) }); err != nil {
				return nil, fmt.Errorf("fake bureau: %w", err)
			}
		}
		var handler http.Handler = h.fake
		if wrap != nil {
			handler = wrap(handler)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fake bureau: %w", err)
		}
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			defer close(done)
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("fake bureau", "err", err)
			}
		}()
		*stops = append(*stops, func() {
			sctx, c := context.WithTimeout(fctx, 5*time.Second)
			defer c()
			_ = hs.Shutdown(sctx)
			cancel()
			<-done
		})
		cfg.BaseURL = "http://" + ln.Addr().String()
		cfg.ClientID, cfg.ClientSecret, cfg.OrganisationID = gocardsfake.DefaultClientID, gocardsfake.DefaultClientSecret, gocardsfake.DefaultOrganisationID
	}
	return gocards.New(cfg)
}

// clientConfig is the GO Cards client's configuration for the bureau f names. A call is bounded
// well under the server's WriteTimeout (see writeTimeout): a direct order waits for this client
// inside a request.
func clientConfig(f flags, log *slog.Logger) gocards.Config {
	return gocards.Config{BaseURL: f.gocardsURL, ClientID: f.gocardsClientID, ClientSecret: f.gocardsSecret,
		OrganisationID: f.gocardsOrg, Logger: log,
		MaxAttempts: bureauAttempts, AttemptTimeout: bureauAttemptTimeout, RetryAfterCap: bureauRetryAfterCap}
}
