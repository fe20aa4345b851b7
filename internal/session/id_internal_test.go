package session

import (
	"strings"
	"testing"
	"time"
)

// TestIDsSortByTime: an identifier made later sorts later (to the
// millisecond), whatever its random half.
func TestIDsSortByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	prev := newIDAt(t0)
	for i := 1; i < 2000; i++ {
		id := newIDAt(t0.Add(time.Duration(i*i) * time.Millisecond))
		if id <= prev {
			t.Fatalf("%q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	a, b := newIDAt(t0), newIDAt(t0)
	if a[:10] != b[:10] || a == b {
		t.Errorf("two ids of one millisecond: %q, %q (want the same time half, different random halves)", a, b)
	}
	if strings.Trim(a, idChars) != "" {
		t.Errorf("%q has characters outside %q", a, idChars)
	}
}
