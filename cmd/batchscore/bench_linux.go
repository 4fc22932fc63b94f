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

// processCPUTimes returns the user plus system CPU time of this process and
// of its children that have ended and been waited for (getrusage).
func processCPUTimes() (self, children time.Duration, ok bool) {
	var s, c unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &s) != nil || unix.Getrusage(unix.RUSAGE_CHILDREN, &c) != nil {
		return 0, 0, false
	}
	cpu := func(r unix.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return cpu(s), cpu(c), true
}
