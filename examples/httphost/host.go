package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
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

// flags are the command line of docs/http-api.md "The example host".
type flags struct {
	addr, seedFile, scriptFile                                           string
	gocardsURL, gocardsClientID, gocardsSecret, gocardsOrg, eventsSecret string
	dispatchInterval                                                     time.Duration
	store                                                                string
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("httphost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address; 127.0.0.1:0 picks a free port")
	fs.StringVar(&f.seedFile, "seed", "", "seed file of users and tokens (default: the built-in demo seed)")
	fs.StringVar(&f.scriptFile, "script", "", "option script to install at start (default: the demo script)")
	fs.StringVar(&f.gocardsURL, "gocards-url", "", "GO Cards base URL (default: an in-process fake bureau)")
	fs.StringVar(&f.gocardsClientID, "gocards-client-id", "", "GO Cards client id")
	fs.StringVar(&f.gocardsSecret, "gocards-client-secret", "", "GO Cards client secret")
	fs.StringVar(&f.gocardsOrg, "gocards-org", "", "GO Cards organisation id")
	fs.StringVar(&f.eventsSecret, "gocards-events-secret", "", "shared secret of the bureau's signed status events")
	fs.DurationVar(&f.dispatchInterval, "dispatch-interval", 5*time.Second, "background dispatch interval; 0 turns the dispatcher off")
	fs.StringVar(&f.store, "store", "", "durable store DSN (empty: in-memory; no durable store exists yet)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected arguments %q", fs.Args())
	case f.store != "":
		return f, errors.New("-store: no durable store is available yet; omit -store to run in memory")
	case f.dispatchInterval < 0:
		return f, errors.New("-dispatch-interval must not be negative")
	case f.gocardsURL != "" && (f.gocardsClientID == "" || f.gocardsSecret == "" || f.gocardsOrg == ""):
		return f, errors.New("-gocards-url needs -gocards-client-id, -gocards-client-secret and -gocards-org")
	case f.gocardsURL == "" && (f.gocardsClientID != "" || f.gocardsSecret != "" || f.gocardsOrg != ""):
		// Without -gocards-url the host talks to its in-process fake with the fake's own
		// credentials; silently ignoring these would hide a forgotten -gocards-url.
		return f, errors.New("-gocards-client-id, -gocards-client-secret and -gocards-org need -gocards-url (without it the host uses an in-process fake bureau)")
	}
	return f, nil
}

// host is a running example host. Tests reach its parts through runWith's hook.
type host struct {
	addr    string // the address it listens on
	svc     *cardorder.Service
	store   *memory.Store
	fake    *gocardsfake.Server // nil with -gocards-url
	secret  []byte              // the events secret; nil: no events endpoint
	scripts httpapi.Scripts
}

// run runs the host until ctx ends, then shuts it down gracefully. Its first line on stdout is
// "listening on http://ADDR".
func run(ctx context.Context, args []string, stdout io.Writer) error {
	return runWith(ctx, args, stdout, os.Stderr, hooks{})
}

// hooks let a test reach into a running host.
type hooks struct {
	// ready is called once the host serves.
	ready func(*host)
	// afterPass is called after every background dispatch pass.
	afterPass func(cardorder.DispatchResult, error)
	// wrap, when set, wraps the API handler.
	wrap func(http.Handler) http.Handler
	// onShutdown is called when the graceful shutdown begins.
	onShutdown func()
}

// runWith is run with the log destination and test hooks.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, hk hooks) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
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
	}

	// Everything started below stops when stopAll runs, in reverse order.
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer stopAll()

	h := &host{store: memory.NewStore()}
	provider, err := h.bureau(ctx, f, log, &stops)
	if err != nil {
		return err
	}
	opts, scripts, err := newOptions(ctx, script, log)
	if err != nil {
		return err
	}
	h.scripts = scripts
	// The HTTP API's idempotency records and the bureau events' dedup entries are purged by the
	// Service's clean-up, which the relay runs (docs/use-case.md §8).
	idem, dedup := &memory.Idempotency{}, &memory.EventDedup{}
	svc, err := cardorder.New(cardorder.Ports{
		Users: memory.NewUsers(sd.Users...), Store: h.store,
		Provider: provider, Options: opts, Mailer: logMailer{log}, Audit: &memory.AuditLog{},
		Idempotency: idem, Dedup: dedup,
	}, &cardorder.Config{Logger: log})
	if err != nil {
		return err
	}
	h.svc = svc

	var events http.Handler
	if len(h.secret) > 0 {
		if events, err = gocards.NewEventHandler(gocards.EventHandlerConfig{Secret: h.secret, Applier: svc, Dedup: dedup, Logger: log}); err != nil {
			return err
		}
	}
	api, err := httpapi.New(httpapi.Config{Service: svc, Auth: sd.tokens(), Scripts: scripts, Events: events, Idempotency: idem, Logger: log})
	if err != nil {
		return err
	}

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
	if hk.wrap != nil {
		api = hk.wrap(api)
	}
	srv := &http.Server{
		Handler:           api,
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
	log.Info("serving", "addr", h.addr, "dispatch_interval", f.dispatchInterval.String(), "fake_bureau", h.fake != nil)

	// The dispatcher runs the outbox relay (mail, audit events, clean-up) alongside; without
	// it, the relay runs alone, so mail still leaves.
	dctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if f.dispatchInterval > 0 {
		d := svc.NewDispatcher(&cardorder.DispatcherConfig{Interval: f.dispatchInterval, AfterPass: hk.afterPass})
		wg.Go(func() { _ = d.Run(dctx) })
	} else {
		wg.Go(func() { _ = svc.NewRelay(nil).Run(dctx) })
	}
	// Stops after the server: a dispatch pass in flight finishes its cards.
	stops = append(stops, func() { stopJobs(); wg.Wait(); log.Info("background jobs stopped") })
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

// bureau returns the provider: the GO Cards client of a real bureau, or of an in-process fake
// it starts (and registers to stop).
func (h *host) bureau(ctx context.Context, f flags, log *slog.Logger, stops *[]func()) (ports.Provider, error) {
	cfg := clientConfig(f, log)
	if f.eventsSecret != "" {
		h.secret = []byte(f.eventsSecret)
	}
	if f.gocardsURL == "" {
		if h.secret == nil {
			h.secret = []byte(demoEventsSecret)
		}
		h.fake = gocardsfake.New(gocardsfake.Config{EventSecret: h.secret})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fake bureau: %w", err)
		}
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := h.fake.Serve(fctx, ln); err != nil {
				log.Error("fake bureau", "err", err)
			}
		}()
		*stops = append(*stops, func() { cancel(); <-done })
		cfg.BaseURL = "http://" + ln.Addr().String()
		cfg.ClientID, cfg.ClientSecret, cfg.OrganisationID = gocardsfake.DefaultClientID, gocardsfake.DefaultClientSecret, gocardsfake.DefaultOrganisationID
	}
	c, err := gocards.New(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// clientConfig is the GO Cards client's configuration for the bureau f names. A call is bounded
// well under the server's WriteTimeout (see writeTimeout): a direct order waits for this client
// inside a request.
func clientConfig(f flags, log *slog.Logger) gocards.Config {
	return gocards.Config{BaseURL: f.gocardsURL, ClientID: f.gocardsClientID, ClientSecret: f.gocardsSecret,
		OrganisationID: f.gocardsOrg, Logger: log,
		MaxAttempts: bureauAttempts, AttemptTimeout: bureauAttemptTimeout, RetryAfterCap: bureauRetryAfterCap}
}

// logMailer "sends" notifications by logging their kind, card and recipient id (never an
// address or a name).
type logMailer struct{ log *slog.Logger }

// Send implements ports.Mailer.
func (m logMailer) Send(ctx context.Context, n ports.Notification) error {
	m.log.InfoContext(ctx, "email", "kind", string(n.Kind), "card", n.CardID, "to_user", n.To.UserID, "to_approvers", n.To.Approvers, "id", n.ID)
	return nil
}
