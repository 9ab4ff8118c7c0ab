package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cardsaddon/extprod/adapters/otel"
	"github.com/cardsaddon/extprod/adapters/otel/otelprom"
)

// metrics is the -metrics wiring: an OpenTelemetry Observer over a meter provider that the
// Prometheus handler reads.
type metrics struct {
	obs     *otel.Observer
	handler http.Handler // GET /metrics
	stop    func()       // shuts the meter provider down
}

// newMetrics builds the observer and the /metrics handler.
func newMetrics() (*metrics, error) {
	mp, h, err := otelprom.New()
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	obs, err := otel.New(&otel.Config{MeterProvider: mp})
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	return &metrics{obs: obs, handler: h, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = mp.Shutdown(ctx)
	}}, nil
}

// serveMetrics serves /metrics alone on addr (an internal address) until the returned stop
// runs; it returns the address it listens on.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
