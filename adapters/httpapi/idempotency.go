package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// idempotent runs create, answering 201 with the JSON it appends to its buffer, under the
// request's Idempotency-Key when it has one: the key is scoped to the actor and bound to the path
// and the parsed body; a successful creation is remembered and replayed with 200; a refusal is
// not remembered. (A function, not a method, so that parsed is boxed for json.Marshal only
// when there is a key.)
func idempotent[T any](h *handler, w http.ResponseWriter, r *http.Request, a ports.Actor, parsed T, create func(context.Context, []byte) ([]byte, error)) error {
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) == 0 {
		bp := bufPool.Get().(*[]byte)
		defer putBuf(bp)
		b, err := create(r.Context(), (*bp)[:0])
		if err != nil {
			return err
		}
		writeRaw(w, http.StatusCreated, "application/json", b)
		*bp = b
		return nil
	}
	if len(keys) > 1 || !validKey(keys[0]) {
		return errorf(CodeBadRequest, "Idempotency-Key must be one value of 1 to %d printable ASCII characters", maxIdempotencyKey)
	}
	canon, err := json.Marshal(parsed)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(r.Method + "\n" + r.URL.Path + "\n" + string(canon)))
	fp := hex.EncodeToString(sum[:])
	scoped := strconv.Itoa(len(a.ID)) + ":" + a.ID + ":" + keys[0]

	rec, err := h.reserve(r.Context(), scoped, fp)
	if err != nil {
		return err
	}
	if rec.Done {
		writeRaw(w, http.StatusOK, "application/json", rec.Body)
		return nil
	}
	b, err := create(r.Context(), nil) // kept in the record: not from the pool
	ctx := context.WithoutCancel(r.Context())
	if err != nil {
		if rerr := h.cfg.Idempotency.Release(ctx, scoped, rec.Token); rerr != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "httpapi: idempotency key not released; it frees itself when its hold expires",
				slog.String("route", r.Pattern), slog.String("err", rerr.Error()))
		}
		return err
	}
	if err := h.cfg.Idempotency.Complete(ctx, scoped, rec.Token, b, h.cfg.Clock.Now().Add(h.cfg.IdempotencyTTL)); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "httpapi: creation not remembered under its idempotency key",
			slog.String("route", r.Pattern), slog.String("err", err.Error()))
	}
	writeRaw(w, http.StatusCreated, "application/json", b)
	return nil
}

// Backoff of a request waiting for another request with the same Idempotency-Key.
const (
	idemPollFirst = 5 * time.Millisecond
	idemPollMax   = 250 * time.Millisecond
)

// reserve reserves key for this request, or returns the completed record to replay. While
// another request with the same key runs, it waits, asking again with a doubling backoff, until
// that one completes (its answer is replayed), releases the key or lets its hold expire (then
// this request reserves it), or ctx ends. A key in use by a request with another fingerprint is
// refused at once.
func (h *handler) reserve(ctx context.Context, key, fp string) (ports.IdempotencyRecord, error) {
	wait := idemPollFirst
	for {
		rec, reserved, err := h.cfg.Idempotency.Reserve(ctx, key, fp, h.cfg.Clock.Now(), h.cfg.IdempotencyHold)
		switch {
		case err != nil:
			return rec, fmt.Errorf("reserve idempotency key: %w", err)
		case reserved:
			return rec, nil
		case rec.Fingerprint != fp:
			return rec, errorf(CodeIdempotencyKeyReused, "this Idempotency-Key was used with another request")
		case rec.Done:
			return rec, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, idemPollMax)
	}
}

func validKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}
