package otel

import (
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// TestIndexesMatchTheirLists: opIndex, channelIndex and stateIndex number the values of their
// lists as the lists order them (the slots of Observer.opOK and Observer.moves rely on it), and
// moveIndex gives every state change on every channel a slot of its own.
func TestIndexesMatchTheirLists(t *testing.T) {
	is := is.New(t)
	for i, op := range operations {
		is.Equal(opIndex(op), i)
	}
	is.Equal(opIndex("unknown"), -1)
	for i, ch := range orderChannels {
		is.Equal(channelIndex(ch), i)
	}
	is.Equal(channelIndex(""), len(orderChannels))
	for i, st := range cardStates {
		is.Equal(stateIndex(st), i)
	}
	is.Equal(stateIndex("unknown"), -1)
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
