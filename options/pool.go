package options

import (
	"context"
	"runtime"
	"sync/atomic"
)

// maxUses is how many evaluations a pooled runtime serves before it is replaced, and
// maxStampingUses how many of a script that can stamp: private class fields can be added to
// frozen objects (as the language allows), so such a script can attach memory to the frozen
// built-ins in every evaluation — never readable by the next one (docs/option-script.md), but
// memory. Private names need a "#" in the source, so only a script with one counts against the
// lower bound; maxUses bounds whatever else might stay behind (nothing known) and costs a
// rebuild (milliseconds) per million evaluations.
const (
	maxUses         = 1_000_000
	maxStampingUses = 10_000
)

// pool is the ceiling on evaluations running at once and the hardened runtimes they use.
// Hardening costs milliseconds (harden.js forces every built-in into existence), so runtimes
// are built once and reused; an evaluation holds one slot and one runtime from acquire to
// release. Waiting for a slot ends only when the caller's context does; the time limit starts
// once the slot and the runtime are held (sandbox.run), so a busy host does not make honest
// scripts fail.
type pool struct {
	lim   Limits
	slots chan struct{}
	idle  chan *sandbox
	// waiting counts the evaluations waiting for a slot, built the runtimes built, reruns the
	// runs stopped on the wall clock to be run again on the CPU clock (observable by tests).
	waiting, built, reruns atomic.Int32
}

func newPool(lim Limits) *pool {
	n := lim.MaxConcurrent
	return &pool{lim: lim, slots: make(chan struct{}, n), idle: make(chan *sandbox, n)}
}

// defaultConcurrency is the default of Limits.MaxConcurrent: the number of CPUs.
func defaultConcurrency() int { return runtime.NumCPU() }

// acquire waits for a slot (or for ctx to end), then takes an idle runtime or builds one.
func (p *pool) acquire(ctx context.Context) (*sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.waiting.Add(1)
		select {
		case p.slots <- struct{}{}:
			p.waiting.Add(-1)
		case <-ctx.Done():
			p.waiting.Add(-1)
			return nil, context.Cause(ctx)
		}
	}
	select {
	case sb := <-p.idle:
		return sb, nil
	default:
	}
	p.built.Add(1)
	sb, err := newSandbox(p.lim)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return sb, nil
}

// release returns the slot, and the runtime to the idle list unless it is broken or worn out.
func (p *pool) release(sb *sandbox) {
	if !sb.broken && sb.uses < maxUses && sb.stampingUses < maxStampingUses {
		select {
		case p.idle <- sb:
		default:
		}
	}
	<-p.slots
}
