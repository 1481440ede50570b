package tftp

import (
	"testing"
	"time"
)

func TestRTOBackoff(t *testing.T) {
	const floor, ceil = 100 * time.Millisecond, time.Second
	// Before any sample the timer starts at the ceiling.
	r := newRTO(floor, ceil, 0)
	if r.rto != ceil {
		t.Fatalf("initial RTO %v, want %v", r.rto, ceil)
	}
	// A fast path: the estimate is far below the floor.
	for i := 0; i < 8; i++ {
		r.sample(200 * time.Microsecond)
	}
	if r.rto != floor {
		t.Fatalf("RTO after fast samples %v, want the floor %v", r.rto, floor)
	}
	r.backoff(1)
	if r.rto != floor {
		t.Errorf("first expiry at the floor: RTO %v, want %v", r.rto, floor)
	}
	r.backoff(2)
	if r.rto != 2*floor {
		t.Errorf("second expiry in a row: RTO %v, want %v", r.rto, 2*floor)
	}
	r.backoff(3)
	if r.rto != 4*floor {
		t.Errorf("third expiry in a row: RTO %v, want %v", r.rto, 4*floor)
	}
	r.progress()
	if r.rto != floor {
		t.Errorf("after progress: RTO %v, want %v", r.rto, floor)
	}

	// A slow path (estimate above the floor) doubles at once.
	s := newRTO(floor, ceil, 0)
	s.sample(150 * time.Millisecond)
	before := s.rto
	s.backoff(1)
	if s.rto != min(2*before, ceil) {
		t.Errorf("slow path: RTO %v after one expiry, want %v", s.rto, min(2*before, ceil))
	}
	// Without a sample, an expiry doubles (up to the ceiling).
	u := newRTO(floor, 10*time.Second, 0)
	u.backoff(1)
	if u.rto != 10*time.Second {
		t.Errorf("unsampled: RTO %v", u.rto)
	}
	// A client's timeout option is fixed.
	f := newRTO(floor, ceil, 3*time.Second)
	f.backoff(2)
	if f.rto != 3*time.Second {
		t.Errorf("fixed: RTO %v", f.rto)
	}
}
