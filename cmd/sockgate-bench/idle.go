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
	before := sampleServer(ctx, c, errs)
	start := time.Now()
	conns := openAll(ctx, d, c.sessions, c.concurrency, c.timeout, errs)
	w := watch(conns, errs)
	sleep(ctx, c.hold)
	after := sampleServer(ctx, c, errs)
	r.Seconds = round(time.Since(start).Seconds(), 2)
	r.Opened = countOpen(conns)
	r.Alive = r.Opened - int(w.dead.Load())
	r.setServerCost(before, after)
	r.setErrors(errs)
	w.closing.Store(true)
	closeAll(conns)
	w.readers.Wait()
	d.closeIdle()
	return r
}

// watcher reads every held session, so that heartbeats are answered and a
// session the server ends is counted.
type watcher struct {
	closing atomic.Bool
	dead    atomic.Int64
	readers sync.WaitGroup
}

func watch(conns []conn, errs *errorCounter) *watcher {
	w := &watcher{}
	for _, cn := range conns {
		if cn == nil {
			continue
		}
		w.readers.Add(1)
		go func() {
			defer w.readers.Done()
			for {
				if _, err := cn.Next(time.Time{}); err != nil {
					if !w.closing.Load() {
						w.dead.Add(1)
						errs.add("idle", err)
					}
					return
				}
			}
		}()
	}
	return w
}

// serverSample is the server's memory and goroutines at one time.
type serverSample struct {
	rssKiB  int64
	metrics map[string]float64
}

func sampleServer(ctx context.Context, c config, errs *errorCounter) serverSample {
	var s serverSample
	var err error
	pid := 0
	if len(c.pids) > 0 {
		pid = c.pids[0]
	}
	if s.rssKiB, err = readRSS(pid); err != nil {
		errs.add("rss", err)
	}
	if s.metrics, err = readMetrics(ctx, c.metricsURL, c.timeout); err != nil {
		errs.add("metrics", err)
	}
	return s
}

// setServerCost sets the per-session figures from samples taken before the
// sessions opened and after they were held.
func (r *result) setServerCost(before, after serverSample) {
	r.RSSBeforeKiB, r.RSSAfterKiB = before.rssKiB, after.rssKiB
	r.GoroutinesFrom = int64(before.metrics[metricGoroutines])
	r.GoroutinesTo = int64(after.metrics[metricGoroutines])
	if r.Opened == 0 {
		return
	}
	n := float64(r.Opened)
	if before.rssKiB > 0 && after.rssKiB > 0 {
		r.KiBPerSession = round(float64(after.rssKiB-before.rssKiB)/n, 2)
	}
	perSession := func(name string, scale float64) float64 {
		a, okA := before.metrics[name]
		b, okB := after.metrics[name]
		if !okA || !okB {
			return 0
		}
		return round((b-a)/scale/n, 2)
	}
	r.GoroutinesPerSn = perSession(metricGoroutines, 1)
	r.HeapKiBPerSn = perSession(metricHeapInuse, 1024)
	r.StackKiBPerSn = perSession(metricStackInuse, 1024)
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
