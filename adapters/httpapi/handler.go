package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// handler serves docs/http-api.md over a [cardorder.Service].
type handler struct {
	cfg Config
	svc *cardorder.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the handler for every endpoint of docs/http-api.md, configured by cfg. It is safe for
// concurrent use.
func New(cfg Config) (http.Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if st, ok := cfg.Auth.(StaticTokens); ok {
		cfg.Auth = st.digests() // hashed once, looked up by digest (see StaticTokens)
	}
	h := &handler{cfg: cfg, svc: cfg.Service, log: slog.New(cardorder.RequestLogHandler(cfg.Logger.Handler())), mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

// route is one endpoint: its method and path pattern and what serves it.
type route struct {
	method, path string
	serve        http.Handler
}

func (h *handler) routes() {
	anyRole := roles("reading cards", ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin, ports.RoleSelfService)
	operator := roles("this action", ports.RoleOperator)
	approver := roles("approving or rejecting", ports.RoleApprover)
	admin := roles("this action", ports.RoleAdmin)
	aborter := roles("aborting", ports.RoleOperator, ports.RoleSelfService)
	rs := []route{
		{"POST", "/v1/users/{userId}/card-orders", h.authed(orderer, h.order)},
		{"POST", "/v1/users/{userId}/card-orders/preview", h.authed(orderer, h.preview)},
		{"GET", "/v1/cards/{cardId}", h.authed(anyRole, h.card)},
		{"GET", "/v1/cards", h.authed(anyRole, h.cards)},
		{"POST", "/v1/cards/{cardId}/approve", h.authed(approver, h.approve)},
		{"POST", "/v1/cards/{cardId}/reject", h.authed(approver, h.reject)},
		{"POST", "/v1/cards/{cardId}/abort", h.authed(aborter, h.abort)},
		{"POST", "/v1/cards/{cardId}/repeat", h.authed(operator, h.repeat)},
		{"POST", "/v1/cards/{cardId}/refresh", h.authed(operator, h.refresh)},
		{"POST", "/v1/batch-orders", h.authed(operator, h.batch)},
		{"POST", "/v1/temporary-card-orders", h.authed(operator, h.temporary)},
		{"POST", "/v1/dispatch", h.authed(admin, h.dispatch)},
		{"POST", "/v1/status-sync", h.authed(admin, h.statusSync)},
		{"GET", "/v1/admin/options-script", h.authed(admin, h.getScript)},
		{"PUT", "/v1/admin/options-script", h.authed(admin, h.putScript)},
		{"POST", "/v1/admin/options-script/dry-run", h.authed(admin, h.dryRun)},
		{"GET", "/healthz", http.HandlerFunc(healthz)},
		{"GET", "/v1/openapi.json", http.HandlerFunc(serveOpenAPI)},
	}
	if h.cfg.Events != nil {
		rs = append(rs, route{"POST", "/v1/gocards/events", h.events(h.cfg.Events)})
	}
	allow := map[string][]string{}
	var paths []string
	for _, rt := range rs {
		h.mux.Handle(rt.method+" "+rt.path, rt.serve)
		if _, seen := allow[rt.path]; !seen {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == "GET" {
			allow[rt.path] = append(allow[rt.path], "HEAD")
		}
	}
	// A known path with another method answers 405 with Allow, as a problem.
	for _, p := range paths {
		methods := strings.Join(allow[p], ", ")
		h.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			h.fail(w, r, errorf(CodeMethodNotAllowed, "%s is not allowed here; use %s", sanitizeMethod(r.Method), methods))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, errorf(cardorder.CodeNotFound, "no such endpoint"))
	})
}

func sanitizeMethod(m string) string {
	if len(m) > 16 || strings.ContainsFunc(m, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		return "this method"
	}
	return m
}

// ServeHTTP implements [http.Handler].
//
// Every request gets an id: the client's X-Request-Id when it is valid (1 to 128 letters, digits
// or "-_.~:"; no "@", so never an email address), else a new random one. It is echoed in the
// X-Request-Id answer header, logged with every line about the request (request_id) and put,
// with the client's address (the host of RemoteAddr), into the context as a [ports.Request], so
// the audit events the request causes name their source (docs/use-case.md §9).
//
// A panic in an endpoint is recovered and logged (route, the panic's kind and the stack, never
// its value, which may quote request data). If nothing was written yet, the client gets a 500
// internal problem; if the answer had already started, a problem cannot follow it, so the
// handler panics again with [http.ErrAbortHandler] and the server breaks the connection off
// (the client sees a truncated answer, not a wrong one).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd["X-Content-Type-Options"] = nosniff
	hd["Cache-Control"] = noStore
	tw := &trackingWriter{ResponseWriter: w}
	rid := requestID(r.Header.Get("X-Request-Id"))
	hd["X-Request-Id"] = tw.one(rid)
	r = r.WithContext(ports.WithRequest(r.Context(), ports.Request{ID: rid, ClientAddress: clientHost(r.RemoteAddr)}))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			attrs := []slog.Attr{slog.String("route", r.Pattern), slog.String("panic", panicSummary(v)),
				slog.String("stack", string(debug.Stack()))}
			if tw.wrote {
				h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: panic after the answer started; aborting it",
					append(attrs, slog.Int("status", tw.status))...)
				panic(http.ErrAbortHandler)
			}
			h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: panic serving a request", attrs...)
			writeProblem(w, internalProblem)
		}
	}()
	h.mux.ServeHTTP(tw, r)
}

// maxRequestID bounds the length of a client's X-Request-Id.
const maxRequestID = 128

// requestID returns the client's request id when it is valid, else a new random one.
func requestID(id string) string {
	if id != "" && len(id) <= maxRequestID && !strings.ContainsFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.~:", c))
	}) {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	var out [2 * len(b)]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// clientHost is the host part of a RemoteAddr ("" when there is none).
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// panicSummary describes a recovered value without its content: a runtime error's message
// (an index, a nil dereference: no request data), else only its type.
func panicSummary(v any) string {
	if re, ok := v.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", v)
}

// trackingWriter records whether the answer has started (a status or body byte was written),
// so that the panic recovery does not write a problem after it. It also holds the values of
// the request's one-value answer headers (see one), allocated with it.
type trackingWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
	vals   [3]string // X-Request-Id, Content-Length, Location: what a 201 sets
	used   int
}

// one returns v as a header value slice: a slot of t while one is free, else a new slice. The
// slice's capacity is 1, so a later Header.Add copies it instead of writing into the next
// slot.
func (t *trackingWriter) one(v string) []string {
	if t.used == len(t.vals) {
		return []string{v}
	}
	i := t.used
	t.used++
	t.vals[i] = v
	return t.vals[i : i+1 : i+1]
}

// headerValue returns v as a one-value header slice, from w's slots when w is the request's
// trackingWriter.
func headerValue(w http.ResponseWriter, v string) []string {
	if t, ok := w.(*trackingWriter); ok {
		return t.one(v)
	}
	return []string{v}
}

// WriteHeader records the status and passes it on.
func (t *trackingWriter) WriteHeader(code int) {
	if !t.wrote && code >= 200 { // 1xx informational answers may precede the real one
		t.wrote, t.status = true, code
	}
	t.ResponseWriter.WriteHeader(code)
}

// Write records that the answer started and passes b on.
func (t *trackingWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.wrote, t.status = true, http.StatusOK
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// rule is a role check made before the body is read (docs/http-api.md's order: authentication,
// role, body…). The domain checks the same again.
type rule func(a ports.Actor, r *http.Request) error

func roles(what string, rs ...ports.Role) rule {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	need := strings.Join(names, " or ")
	return func(a ports.Actor, _ *http.Request) error {
		if slices.ContainsFunc(rs, a.Has) {
			return nil
		}
		return errorf(cardorder.CodeForbidden, "%s needs the %s role", what, need)
	}
}

// orderer lets an operator order for anyone and a self-service user for itself (docs/use-case.md §2:
// role, then own user).
func orderer(a ports.Actor, r *http.Request) error {
	switch {
	case a.Has(ports.RoleOperator):
		return nil
	case a.Has(ports.RoleSelfService) && a.ID == r.PathValue("userId"):
		return nil
	case a.Has(ports.RoleSelfService):
		return errorf(cardorder.CodeForbidden, "a self-service user may order only for itself")
	}
	return errorf(cardorder.CodeForbidden, "ordering cards needs the operator role")
}

// actionFunc serves an authenticated request; an error is answered as a problem.
type actionFunc func(w http.ResponseWriter, r *http.Request, a ports.Actor) error

// authed authenticates the bearer token, applies the role rule, then runs f.
func (h *handler) authed(check rule, f actionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		_, endAuth := h.svc.Observer().Start(r.Context(), ports.Span{Op: ports.OpAuthenticate})
		if !ok {
			h.authFailed(r, endAuth, "no bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="extprod"`)
			h.fail(w, r, errorf(cardorder.CodeUnauthenticated, "send Authorization: Bearer <token>"))
			return
		}
		a, err := h.cfg.Auth.Authenticate(r.Context(), tok)
		switch {
		case err == nil && a.ID != "":
		case err == nil, errors.Is(err, ports.ErrUnauthenticated):
			h.authFailed(r, endAuth, "the token names no one")
			w.Header().Set("WWW-Authenticate", `Bearer realm="extprod", error="invalid_token"`)
			h.fail(w, r, errorf(cardorder.CodeUnauthenticated, "the token is unknown or expired"))
			return
		default:
			// The identity provider could not decide: "try again", not "who are you?". The
			// cause is logged (it never holds the token: Authenticator must not put it there).
			endAuth(ports.Outcome{Code: string(CodeAuthUnavailable)})
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "httpapi: authentication unavailable",
				slog.String("route", r.Pattern), slog.String("err", err.Error()))
			w.Header().Set("Retry-After", "5")
			h.fail(w, r, errorf(CodeAuthUnavailable, "the identity provider could not be reached; try again shortly"))
			return
		}
		endAuth(ports.Outcome{})
		if err := check(a, r); err != nil {
			// The domain's permission rule, checked early: audited as the domain would.
			h.svc.RecordRefusal(r.Context(), a, cardorder.Refusal{Code: cardorder.CodeForbidden, Reason: err.Error(),
				CardID: pathID(r, "cardId"), UserID: pathID(r, "userId")})
			h.fail(w, r, err)
			return
		}
		if err := f(w, r, a); err != nil {
			h.fail(w, r, err)
		}
	})
}

// pathID is the path value name when it is short enough to be an id, else "" (it goes into an
// audit event before the endpoint checked it).
func pathID(r *http.Request, name string) string {
	if v := r.PathValue(name); len(v) <= maxRequestID {
		return v
	}
	return ""
}

// authFailed logs a failed authentication (never the token) and ends its span with code
// unauthenticated, so an observer counts it. It is not audited: a stranger must not be able to
// write to the store (docs/use-case.md §9).
func (h *handler) authFailed(r *http.Request, end func(ports.Outcome), why string) {
	end(ports.Outcome{Code: string(cardorder.CodeUnauthenticated)})
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "httpapi: authentication failed", slog.String("route", r.Pattern),
		slog.String("why", why), slog.String("client", ports.RequestOf(r.Context()).ClientAddress))
}

// bearer returns the token of the request's single "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	vs := r.Header.Values("Authorization")
	if len(vs) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != "" && len(tok) <= 4096
}

// writeJSON answers v as JSON with status; a Card is appended to a pooled buffer by its own
// encoder (the hot path), anything else goes through json.Marshal.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if c, ok := v.(Card); ok {
		bp := bufPool.Get().(*[]byte)
		*bp = c.AppendJSON((*bp)[:0])
		writeRaw(w, status, "application/json", *bp)
		putBuf(bp)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, internalProblem)
		return
	}
	writeRaw(w, status, "application/json", b)
}

// writeCard answers domain card c as JSON with status, encoded straight into a pooled buffer.
func writeCard(w http.ResponseWriter, status int, c *ports.Card) {
	bp := bufPool.Get().(*[]byte)
	*bp = appendCardJSON((*bp)[:0], c)
	writeRaw(w, status, "application/json", *bp)
	putBuf(bp)
}

// Header values shared by every answer, assigned without allocating. Header.Set and Add never
// modify an assigned slice in place (Add appends to a full one, which copies), so sharing is safe.
var (
	nosniff  = []string{"nosniff"}
	noStore  = []string{"no-store"}
	jsonType = []string{"application/json"}
)

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	hd := w.Header()
	if contentType == "application/json" {
		hd["Content-Type"] = jsonType
	} else {
		hd["Content-Type"] = []string{contentType}
	}
	hd["Content-Length"] = headerValue(w, strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
