package e2e

import (
	"strings"
	"testing"
)

// A figure's verdict is taken as printed (two decimals), and a figure
// without a baseline claims none.
func TestFigureVerdict(t *testing.T) {
	tests := []struct {
		value, target float64
		want          string
	}{
		{1.004, 1, "met"},
		{1.006, 1, "NOT MET"},
		{0.59, 0.6, "met"},
		{4.46, 1.6, "NOT MET"},
	}
	for _, tt := range tests {
		if got := verdict(tt.value, tt.target); got != tt.want {
			t.Errorf("verdict(%g, %g) = %q, want %q", tt.value, tt.target, got, tt.want)
		}
	}
	line := figureLine("cold get / cold get of the same binary", 1.0, "×", 1, "n/a (one binary)", 1.5)
	if !strings.HasPrefix(line, "FIGURE ") || !strings.Contains(line, ": n/a (one binary) (load 1.50)") || strings.Contains(line, "met") {
		t.Errorf("figure without a baseline: %q", line)
	}
}
