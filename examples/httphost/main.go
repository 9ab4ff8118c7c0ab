// Command httphost is the example HTTP host of extprod: the operator HTTP API (docs/http-api.md)
// over a durable store (SQLite in extprod-data/ by default, or PostgreSQL, or memory), a demo
// seed of users and tokens (or a SCIM directory), the option script engine, the GO Cards client
// talking to an in-process fake bureau (or a real one), the bureau's signed status events, mail
// as log lines (or through an SMTP relay), static tokens (or OpenID Connect sign-in), the
// background dispatcher and the outbox relay.
//
//	go run ./examples/httphost
//
// prints "listening on http://127.0.0.1:8080" as its first line and serves until SIGINT or
// SIGTERM, then shuts down gracefully: in-flight requests finish, the dispatcher finishes the
// cards it holds, the store is closed. A restart on the same store loses nothing. Logs go to
// standard error and carry no personal data. GET /healthz says the process is alive, GET /readyz
// whether the store answers and the option script loads.
//
// Flags (docs/http-api.md "The example host"; -h lists them):
//
//	-addr ADDR                   listen address (default 127.0.0.1:8080; 127.0.0.1:0 picks a port)
//	-store STORE                 memory, sqlite:PATH or a postgres:// URL (or $EXTPROD_STORE;
//	                             default sqlite:extprod-data/extprod.db)
//	-seed FILE                   users and tokens (default: the built-in demo seed)
//	-script FILE                 the option script to install when the store holds none
//	                             (default: the demo script)
//	-gocards-url URL             a real GO Cards bureau (default: an in-process fake)
//	-gocards-client-id ID        its client credentials and organisation (only with -gocards-url)
//	-gocards-client-secret SECRET  (or $EXTPROD_GOCARDS_CLIENT_SECRET)
//	-gocards-org ORG
//	-gocards-events-secret SECRET  the shared secret of the bureau's signed status events
//	                             (or $EXTPROD_GOCARDS_EVENTS_SECRET; with -gocards-url and
//	                             without it, no events endpoint: a warning)
//	-dispatch-interval DURATION  background dispatch interval (default 5s; 0 turns it off)
//	-scim-url URL -scim-token TOKEN  users from a SCIM directory (token or $EXTPROD_SCIM_TOKEN)
//	-smtp-addr HOST[:PORT] -smtp-from ADDR  mail through an SMTP relay
//	-smtp-user USER -smtp-password PASSWORD  (or $EXTPROD_SMTP_PASSWORD)
//	-smtp-tls starttls|tls|none  (default starttls)
//	-approvers ADDRS             comma-separated addresses of the approvers
//	-oidc-issuer URL -oidc-audience AUD  sign-in with OpenID Connect
//	-oidc-roles-claim POINTER    JSON Pointer, or keycloak, zitadel, plain (default /roles)
//	-log-format text|json        (default text)
//	-metrics                     serve /metrics (Prometheus) beside the API
//	-metrics-addr ADDR           serve /metrics alone on ADDR (implies -metrics)
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
