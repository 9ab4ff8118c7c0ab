package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/logbuf"
)

// panicHandler is New's handler with two extra routes that panic before and after writing. The
// panic values quote personal data, which must not reach the log.
func panicHandler(t *testing.T) (*handler, *logbuf.Buffer) {
	t.Helper()
	logs := &logbuf.Buffer{}
	hd, err := New(Config{Service: new(cardorder.Service), Auth: StaticTokens{},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := hd.(*handler)
	h.mux.HandleFunc("GET /test/panic-before", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Partial", "set before the panic")
		panic(errors.New("boom for ada@example.com"))
	})
	h.mux.HandleFunc("GET /test/panic-after", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "half done"})
		panic("boom for ada@example.com")
	})
	return h, logs
}

func TestPanicBeforeWritingAnswersAProblem(t *testing.T) {
	h, logs := panicHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/test/panic-before", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type %q", ct)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if p.Code != string(CodeInternal) || p.Status != http.StatusInternalServerError || p.Detail != genericDetail {
		t.Errorf("problem %+v", p)
	}
	out := logs.String()
	if !strings.Contains(out, "panic serving a request") || !strings.Contains(out, "*errors.errorString") {
		t.Errorf("log lacks the panic:\n%s", out)
	}
	if strings.Contains(out, "ada@") {
		t.Errorf("log quotes the panic value:\n%s", out)
	}
}

func TestPanicAfterWritingAborts(t *testing.T) {
	h, logs := panicHandler(t)
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/test/panic-after", nil))
	}()
	// The answer that had started is left as it was: no problem written after it.
	if rec.Code != http.StatusOK {
		t.Errorf("status %d, want the 200 already written", rec.Code)
	}
	if got := rec.Body.String(); got != `{"status":"half done"}` {
		t.Errorf("body %q: a problem was written after the answer", got)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	out := logs.String()
	if !strings.Contains(out, "panic after the answer started") || !strings.Contains(out, "status=200") {
		t.Errorf("log lacks the aborted answer:\n%s", out)
	}
	if strings.Contains(out, "ada@") {
		t.Errorf("log quotes the panic value:\n%s", out)
	}

	// Over a real connection the server breaks the answer off (ErrAbortHandler).
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The client must not take the half-done answer for a complete one.
	res, err := srv.Client().Get(srv.URL + "/test/panic-after")
	if err == nil {
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if rerr == nil {
			t.Errorf("a complete answer reached the client: %d %q", res.StatusCode, b)
		}
	}
	// A runtime error keeps its message (no request data in it).
	var nilMap map[string]int
	h.mux.HandleFunc("GET /test/runtime", func(http.ResponseWriter, *http.Request) { nilMap["x"] = 1 })
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/test/runtime", nil))
	if !strings.Contains(logs.String(), "assignment to entry in nil map") {
		t.Errorf("log lacks the runtime error:\n%s", logs.String())
	}
}
