package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordTB records Errorf instead of failing.
type recordTB struct {
	testing.TB
	errs []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestWithinNamesAHang: the watchdog that bounds plugin calls returns
// errHung and names what hung; a call that returns in time passes its
// error through untouched.
func TestWithinNamesAHang(t *testing.T) {
	rec := &recordTB{TB: t}
	block := make(chan struct{})
	defer close(block)
	err := within(rec, "the blocked call", 50*time.Millisecond, func() error { <-block; return nil })
	if !errors.Is(err, errHung) || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "the blocked call did not return within 50ms") {
		t.Fatalf("within on a hang: %v, reported %q", err, rec.errs)
	}
	want := errors.New("plain failure")
	if err := within(rec, "a quick call", time.Minute, func() error { return want }); err != want || len(rec.errs) != 1 {
		t.Fatalf("within on a quick call: %v, reported %q", err, rec.errs)
	}
}
