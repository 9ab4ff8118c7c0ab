package otel

import (
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// TestMovesHaveSlotsOfTheirOwn: moveIndex gives every state change on every channel (and on
// none) a slot of Observer.moves of its own, and none to an unknown state or channel.
func TestMovesHaveSlotsOfTheirOwn(t *testing.T) {
	is := is.New(t)
	is.Equal(opIndex("unknown"), -1)
	seen := map[int]bool{}
	for _, from := range cardStates {
		for _, to := range cardStates {
			for _, ch := range append(orderChannels[:], "") {
				m := moveIndex(from, to, ch)
				is.True(m >= 0 && m < len(Observer{}.moves) && !seen[m])
				seen[m] = true
			}
		}
	}
	is.Equal(moveIndex(ports.StateRequested, ports.StateProcessing, "unknown"), -1)
	is.Equal(moveIndex("unknown", ports.StateProcessing, ports.ChannelBatch), -1)
}
