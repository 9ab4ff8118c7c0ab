package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestStory(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"card-1 is processing",
		"refused: order_exists",
		"card-1 is aborted",
		"1 ordered, 0 failed, 0 still queued",
		"is produced",
		"is requested",
		"refused: reason_required",
		"rejects it: rejected",
		"card_ordered, approval_needed, order_rejected",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
