package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: values below subBuckets nanoseconds have a bucket each;
// above, every power of two is split into subBuckets buckets, so a bucket is
// at most 1/64 (1.6%) of its value wide.
const (
	subBucketBits = 6
	subBuckets    = 1 << subBucketBits
	histBuckets   = (64 - subBucketBits + 1) * subBuckets
)

// histogram counts durations without keeping samples. All methods are safe
// for concurrent use: every worker records into the same one.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	low := uint64(i%subBuckets+subBuckets) << shift
	return low + (uint64(1)<<shift)/2
}

// record adds one duration; negative ones count as zero.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1), or 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}
