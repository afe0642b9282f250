package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux build that matters).
const clockTick = 10 * time.Millisecond

// cpuMeter measures the CPU time the server (when its pid is known) and
// the load tool itself use from startCPU to used.
type cpuMeter struct {
	pid            int
	server, client time.Duration
	serverErr      error
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid, client: selfCPU()}
	if pid > 0 {
		m.server, m.serverErr = processCPU(pid)
	}
	return m
}

// used returns the CPU time used since startCPU; a failure to read the
// server's is counted in errs and gives zero.
func (m cpuMeter) used(errs *errorCounter) (server, client time.Duration) {
	client = selfCPU() - m.client
	if m.pid <= 0 {
		return 0, client
	}
	now, err := processCPU(m.pid)
	if err == nil {
		err = m.serverErr
	}
	if err != nil {
		errs.add("cpu", err)
		return 0, client
	}
	return now - m.server, client
}

// selfCPU is the user and system time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system time of process pid, all threads.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line; the command name (field 2) may hold spaces.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name")
	}
	fields := bytes.Fields(stat[i+1:]) // from field 3, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields", len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
