//go:build !linux

package options

import "time"

// hasThreadClock: the OS does not tell the CPU time of a thread here, so the time limit is
// wall-clock only (limitTimer).
const hasThreadClock = false

// threadClock is the CPU-time clock of an OS thread; only Linux has one here, so elsewhere the
// time limit is wall-clock only.
type threadClock struct{}

func currentThreadClock() (threadClock, bool) { return threadClock{}, false }

func (threadClock) now() (time.Duration, bool) { return 0, false }
