//go:build !linux

package options

import "time"

// threadClock is the CPU-time clock of an OS thread; only Linux has one here, so elsewhere the
// time limit is wall-clock only.
type threadClock struct{}

func currentThreadClock() (threadClock, bool) { return threadClock{}, false }

func (threadClock) now() (time.Duration, bool) { return 0, false }
