//go:build !linux

package main

import "time"

// threadCPUTime is not available here: single-core rates use wall-clock time.
func threadCPUTime() (time.Duration, bool) { return 0, false }
