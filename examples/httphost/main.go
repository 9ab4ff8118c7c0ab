// Command httphost is the example HTTP host of extprod: the operator HTTP API (docs/http-api.md)
// over in-memory stores, a built-in demo seed of users and tokens, the option script engine,
// the GO Cards client talking to an in-process fake bureau (or a real one), the bureau's signed
// status events and the background dispatcher.
//
//	go run ./examples/httphost
//
// prints "listening on http://127.0.0.1:8080" as its first line and serves until SIGINT or
// SIGTERM, then shuts down gracefully: in-flight requests finish, then the dispatcher finishes
// the cards it holds. Logs go to standard error and carry no personal data.
//
// Flags:
//
//	-addr ADDR                   listen address (default 127.0.0.1:8080; 127.0.0.1:0 picks a port)
//	-seed FILE                   users and tokens (default: the built-in demo seed)
//	-script FILE                 the option script to install at start (default: the demo script)
//	-gocards-url URL             a real GO Cards bureau (default: an in-process fake)
//	-gocards-client-id ID        its client credentials and organisation (only with -gocards-url)
//	-gocards-client-secret SECRET
//	-gocards-org ORG
//	-gocards-events-secret SECRET  the shared secret of the bureau's signed status events
//	                             (with -gocards-url and without it, no events endpoint: a warning)
//	-dispatch-interval DURATION  background dispatch interval (default 5s; 0 turns it off)
//	-store DSN                   a durable store (not available yet: must be empty)
//
// Try it:
//
//	curl -s -XPOST -H 'Authorization: Bearer t-op' localhost:8080/v1/users/u1/card-orders
//	curl -s -H 'Authorization: Bearer t-op' localhost:8080/v1/cards
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "httphost:", err)
		os.Exit(1)
	}
}
