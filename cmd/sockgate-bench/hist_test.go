package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketsCoverValues(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucketOf(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
		if mid := bucketValue(i); v >= subBuckets && (float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02) {
			t.Errorf("bucketValue(bucketOf(%d)) = %d: more than 2%% off", v, mid)
		}
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram: want 0")
	}
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	h.record(-time.Second) // counts as zero
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if diff := math.Abs(float64(got-tt.want)) / float64(tt.want); diff > 0.02 {
			t.Errorf("quantile(%v) = %v; want %v within 2%%", tt.q, got, tt.want)
		}
	}
	if got := h.quantile(1); got > 10000*time.Microsecond {
		t.Errorf("quantile(1) = %v above the largest value", got)
	}
}
