package httpapi

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/cardorder"
)

// TestOpenAPIProblemCodes: the document's Problem code enum is exactly the codes the handler can
// answer, and each code's status has its problem response in the document.
func TestOpenAPIProblemCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		want = append(want, string(c))
		if _, ok := doc.Components.Responses["P"+strconv.Itoa(codes[c].status)]; !ok {
			t.Errorf("code %s: the document has no problem response P%d", c, codes[c].status)
		}
	}
	got := slices.Sorted(slices.Values(doc.Components.Schemas.Problem.Properties.Code.Enum))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Problem code enum (-handler +document):\n%s", diff)
	}
	// The scan above saw the codes the handler adds and the domain's.
	for _, c := range []cardorder.Code{CodeBadRequest, CodeAuthUnavailable, cardorder.CodeJobRunning, cardorder.CodeOrderExists} {
		if !slices.Contains(got, string(c)) {
			t.Errorf("code %s is not in the document", c)
		}
	}
}
