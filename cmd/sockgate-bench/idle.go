package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runIdle opens c.sessions sessions, holds them for c.hold, and reports how
// much resident memory and how many goroutines each costs the server.
func runIdle(ctx context.Context, c config, d *dialer) result {
	errs := newErrorCounter()
	r := newResult(c)
	rss0, err := readRSS(c.pid)
	if err != nil {
		errs.add("rss", err)
	}
	m0, err := readMetrics(ctx, c.metricsURL, c.timeout)
	if err != nil {
		errs.add("metrics", err)
	}
	start := time.Now()
	conns := openAll(ctx, d, c.sessions, c.concurrency, c.timeout, errs)
	var closing atomic.Bool
	var dead atomic.Int64
	var readers sync.WaitGroup
	for _, cn := range conns {
		if cn == nil {
			continue
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, err := cn.Next(time.Time{}); err != nil {
					if !closing.Load() {
						dead.Add(1)
						errs.add("idle", err)
					}
					return
				}
			}
		}()
	}
	sleep(ctx, c.hold)
	rss1, err := readRSS(c.pid)
	if err != nil {
		errs.add("rss", err)
	}
	m1, err := readMetrics(ctx, c.metricsURL, c.timeout)
	if err != nil {
		errs.add("metrics", err)
	}
	r.Seconds = round(time.Since(start).Seconds(), 2)
	r.Opened = countOpen(conns)
	r.Alive = r.Opened - int(dead.Load())
	r.RSSBeforeKiB, r.RSSAfterKiB = rss0, rss1
	r.GoroutinesFrom, r.GoroutinesTo = int64(m0[metricGoroutines]), int64(m1[metricGoroutines])
	if r.Opened > 0 {
		n := float64(r.Opened)
		if rss0 > 0 && rss1 > 0 {
			r.KiBPerSession = round(float64(rss1-rss0)/n, 2)
		}
		perSession := func(name string, scale float64) float64 {
			a, okA := m0[name]
			b, okB := m1[name]
			if !okA || !okB {
				return 0
			}
			return round((b-a)/scale/n, 2)
		}
		r.GoroutinesPerSn = perSession(metricGoroutines, 1)
		r.HeapKiBPerSn = perSession(metricHeapInuse, 1024)
		r.StackKiBPerSn = perSession(metricStackInuse, 1024)
	}
	r.setErrors(errs)
	closing.Store(true)
	closeAll(conns)
	readers.Wait()
	d.closeIdle()
	return r
}

// readRSS is VmRSS of process pid, in KiB.
func readRSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no -pid: the server's memory is not measured")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKiB(b, "VmRSS:")
}

// parseStatusKiB reads a "<field> <n> kB" line of /proc/<pid>/status.
func parseStatusKiB(status []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(strings.TrimSpace(rest), " kB")
		return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
	}
	return 0, fmt.Errorf("%s not in /proc status", field)
}

// Metrics read from the server's Prometheus text page.
const (
	metricGoroutines = "go_goroutines"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
)

// metricsClient reads /metrics without keeping the connection: it is
// asked only twice per run.
var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// readMetrics reads the samples of a Prometheus text page that have no
// labels; go_goroutines must be there.
func readMetrics(ctx context.Context, metricsURL string, timeout time.Duration) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", metricsURL, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := out[metricGoroutines]; !ok {
		return nil, fmt.Errorf("no %s line", metricGoroutines)
	}
	return out, nil
}
