package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux build that matters).
const clockTick = 10 * time.Millisecond

// cpuMeter measures the CPU time the server (the processes pids, added up)
// and the load tool itself use from startCPU to used, and how busy the CPUs
// the server is pinned to were.
type cpuMeter struct {
	pids           []int
	server, client time.Duration
	cores          []int         // the server's CPUs, when the tool runs on others
	coresBusy      time.Duration // their busy time
	wire           int64         // wireBytes at the start
	err            error
}

// cpuUse is what a cpuMeter measured.
type cpuUse struct {
	server, client time.Duration
	// others is the time the server's CPUs were busy with anything but the
	// server: other processes, or interrupts; -1 when not known (the
	// server is not pinned apart from the load tool).
	others time.Duration
	wire   int64 // bytes the tool's websockets read
}

func startCPU(pids []int) cpuMeter {
	m := cpuMeter{pids: pids, client: selfCPU(), wire: wireBytes.Load()}
	if len(pids) == 0 {
		return m
	}
	m.server, m.err = processesCPU(pids)
	m.cores = separateCores(pids)
	if len(m.cores) > 0 && m.err == nil {
		m.coresBusy, m.err = coresBusy(m.cores)
	}
	return m
}

// used returns the CPU time used since startCPU; a failure to read the
// server's is counted in errs and gives zero.
func (m cpuMeter) used(errs *errorCounter) cpuUse {
	u := cpuUse{client: selfCPU() - m.client, others: -1, wire: wireBytes.Load() - m.wire}
	if len(m.pids) == 0 {
		return u
	}
	now, err := processesCPU(m.pids)
	busy := m.coresBusy
	if err == nil && len(m.cores) > 0 {
		busy, err = coresBusy(m.cores)
	}
	if err == nil {
		err = m.err
	}
	if err != nil {
		errs.add("cpu", err)
		return u
	}
	u.server = now - m.server
	if len(m.cores) > 0 {
		u.others = max(busy-m.coresBusy-u.server, 0)
	}
	return u
}

// processesCPU adds up the CPU time of several processes.
func processesCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		t, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// separateCores returns the CPUs the processes pids may run on when the
// load tool may run on none of them, else nil.
func separateCores(pids []int) []int {
	self, err := allowedCPUs("/proc/self/status")
	if err != nil {
		return nil
	}
	var cores []int
	for _, pid := range pids {
		server, err := allowedCPUs(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return nil
		}
		for _, c := range server {
			if slices.Contains(self, c) {
				return nil
			}
			if !slices.Contains(cores, c) {
				cores = append(cores, c)
			}
		}
	}
	return cores
}

// allowedCPUs reads Cpus_allowed_list ("0", "0-3,6") of a status file.
func allowedCPUs(statusFile string) ([]int, error) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return nil, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		list, ok := bytes.CutPrefix(line, []byte("Cpus_allowed_list:"))
		if !ok {
			continue
		}
		return parseCPUList(string(bytes.TrimSpace(list)))
	}
	return nil, fmt.Errorf("%s: no Cpus_allowed_list", statusFile)
}

func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("cpu list %q: %w", list, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// coresBusy is the time CPUs cores have spent not idle, from /proc/stat.
func coresBusy(cores []int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseCoresBusy(b, cores)
}

// parseCoresBusy adds up user, nice, system, irq, softirq and steal of the
// "cpuN" lines of /proc/stat for the cores asked.
func parseCoresBusy(stat []byte, cores []int) (time.Duration, error) {
	want := map[string]bool{}
	for _, c := range cores {
		want["cpu"+strconv.Itoa(c)] = true
	}
	var ticks int64
	found := 0
	for _, line := range bytes.Split(stat, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 9 || !want[f[0]] {
			continue
		}
		found++
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat %s: %w", f[0], err)
			}
			ticks += n
		}
	}
	if found != len(cores) {
		return 0, fmt.Errorf("/proc/stat: %d of %d cpus", found, len(cores))
	}
	return time.Duration(ticks) * clockTick, nil
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
