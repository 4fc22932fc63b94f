// Package proccpu reads the CPU time a running process has used so far, for
// the benchmarks that compare what each process of the local pipeline spends
// (Linux, from /proc).
package proccpu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the times in /proc/PID/stat: the kernel reports them
// in USER_HZ ticks, 100 per second on every Linux architecture Go supports.
const userHZ = 100

// Of returns the user + system CPU time of process pid and all its threads,
// from /proc/PID/stat (fields 14 and 15), to the nearest 10 ms.
func Of(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu time of process %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat reads utime and stime from a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces and parentheses itself,
// so the fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu time: no command name in %q", b)
	}
	// After ") " come field 3 (state) onwards: utime is field 14, stime 15.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu time: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
