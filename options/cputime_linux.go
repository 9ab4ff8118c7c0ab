//go:build linux

package options

import (
	"syscall"
	"time"
	"unsafe"
)

// hasThreadClock: the OS tells the CPU time of a thread, so a run over the time limit on the
// wall clock is run again on the CPU clock (limitTimer).
const hasThreadClock = true

// threadClock identifies the CPU-time clock of the calling OS thread, for reading from any
// thread (the time-limit timer runs on another one). The caller must hold its OS thread
// (runtime.LockOSThread) for as long as the clock is read.
type threadClock struct{ id int32 }

// currentThreadClock returns the CPU-time clock of the calling OS thread; ok is false when the
// system cannot tell (then the time limit is wall-clock only).
func currentThreadClock() (threadClock, bool) {
	// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) of the Linux ABI, what glibc's
	// pthread_getcpuclockid returns: (~tid << 3) | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED.
	// (The caller's first read, its baseline, tells whether the clock works: each read is a
	// system call.)
	tid := syscall.Gettid()
	return threadClock{id: int32(^uint32(tid)<<3 | 4 | 2)}, true
}

// now returns the CPU time the thread has used so far.
func (c threadClock) now() (time.Duration, bool) {
	var ts syscall.Timespec
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(int64(c.id)), uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
