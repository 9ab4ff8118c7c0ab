package options

import (
	"sync"

	"github.com/cardsaddon/extprod/ports"
)

// A memo of a script function's results, keyed by what the function read of the order's data.
//
// Each call of resolve or mapUserToCard runs on a top level of its own, run afresh or shared
// frozen (shared.go), in a runtime where nothing of an earlier call can be seen
// (docs/option-script.md, "No state between orders"), so its result is a function of the order
// data it reads and of nothing else — unless it asks for the time or a random number (then, or
// when it reads more than maxCallReads times, it is not kept). The reads are made through one function (valueOf, request.go), and a call's reads come
// in an order fixed by the answers to the earlier ones. So the memo is a tree: a node names the
// next read, its children are keyed by the answer, and a leaf holds the result. Looking an order
// up answers the reads from the order's data, with no JavaScript, until it reaches a leaf (the
// result the script computed for an order that read the same) or a missing child (the script
// runs, and its reads and result are added).
//
// A script whose function decides by a few coarse fields (channel, organisation, role) is then
// run a few times and answered from the memo afterwards; one that reads a field unique to each
// user (an id, a name) misses every time and fills the memo up to its bounds, then runs as
// without it.

// maxMemoResults bounds the results one function's memo holds, maxMemoNodes its nodes (a
// result's path has at most maxCallReads of them).
const (
	maxMemoResults = 1024
	maxMemoNodes   = 16384
)

// memo is the memo of one script function. Results are stored as given and handed out as
// copies (copyResult).
type memo struct {
	mu             sync.RWMutex
	root           *memoNode
	results, nodes int
	// off is set when two calls that read the same disagreed on what to read next or on being
	// done: the function is not a function of its reads after all, and is no longer memoized.
	off bool
}

type memoNode struct {
	next     access // the read that follows (inner node)
	children map[seen]*memoNode
	leaf     bool
	result   any
}

// lookup returns the result stored for an order that reads like r, if any.
func (m *memo) lookup(r *ports.OptionsRequest) (any, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.root
	for n != nil && !n.leaf {
		n = n.children[valueOf(r, n.next)]
	}
	if n == nil {
		return nil, false
	}
	return n.result, true
}

// accepting reports whether the memo takes further results (so a call's reads are worth
// writing down).
func (m *memo) accepting() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return !m.off && m.results < maxMemoResults && m.nodes < maxMemoNodes
}

// add stores the result of a call that made the reads trace.
func (m *memo) add(trace []step, result any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.off || m.results >= maxMemoResults || m.nodes+len(trace)+1 > maxMemoNodes {
		return
	}
	var parent *memoNode
	var key seen
	n := m.root
	for _, s := range trace {
		if n == nil {
			n = &memoNode{next: s.access, children: make(map[seen]*memoNode, 1)}
			m.attach(parent, key, n)
		}
		if n.leaf || n.next != s.access {
			m.disable()
			return
		}
		parent, key, n = n, s.seen, n.children[s.seen]
	}
	switch {
	case n == nil:
		m.attach(parent, key, &memoNode{leaf: true, result: result})
		m.results++
	case !n.leaf:
		m.disable()
	}
	// (A leaf there already: another call stored the same reads' result first.)
}

// attach puts n below parent for the answer key, or at the root.
func (m *memo) attach(parent *memoNode, key seen, n *memoNode) {
	m.nodes++
	if parent == nil {
		m.root = n
		return
	}
	parent.children[key] = n
}

func (m *memo) disable() {
	m.off, m.root, m.results, m.nodes = true, nil, 0, 0
}
