package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime returns the CPU time the calling OS thread has used. On a
// shared machine it counts only the time this thread actually ran, so
// single-core rates stay meaningful while other processes compete for the
// cores. The caller must hold its OS thread (runtime.LockOSThread).
func threadCPUTime() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
