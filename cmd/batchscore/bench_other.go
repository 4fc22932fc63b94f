//go:build !linux

package main

import "time"

// threadCPUTime is not available here: single-core rates use wall-clock time.
func threadCPUTime() (time.Duration, bool) { return 0, false }

// processCPUTimes is not available here: bench-e2e reports wall-clock time only.
func processCPUTimes() (self, children time.Duration, ok bool) { return 0, 0, false }
