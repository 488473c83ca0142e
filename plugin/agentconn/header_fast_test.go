package agentconn

import (
	"fmt"
	"testing"
	"time"
)

// FuzzParseHeader: ParseHeader, with its hand-written fast path, answers
// every line as the encoding/json parse does — the same timeout, or the
// same error, word for word.
func FuzzParseHeader(f *testing.F) {
	for _, d := range []time.Duration{time.Millisecond, 1500 * time.Millisecond, 2 * time.Minute, 90*time.Minute + time.Millisecond} {
		h := appendHeader(nil, timeoutLeft(time.Now().Add(d)))
		f.Add(h[:len(h)-1])
	}
	for _, s := range []string{
		`{"protocol":1}`, `{"protocol":1,"timeout":"1.5s"}`, `{"protocol":2}`, `{"protocol":1,"timeout":"0s"}`,
		`{"protocol":1,"timeout":"-1s"}`, `{"protocol":1,"timeout":""}`, `{"protocol":1,"timeout":"3"}`,
		`{"protocol":1,"timeout":"1s","x":1}`, `{"protocol":1}{}`, `{"protocol":1} `, ` {"protocol":1}`,
		`{"timeout":"1s","protocol":1}`, `{"protocol":1,"timeout":"1\u0073"}`, `{"protocol":1,"timeout":"1s"`,
		`{"protocol":1.0}`, `{"protocol":1,"protocol":2}`, `{"protocol":1,"timeout":"1µs"}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, gerr := ParseHeader(line)
		want, werr := parseHeaderJSON(line)
		if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("ParseHeader(%q) = %v, %v; the json parse says %v, %v", line, got, gerr, want, werr)
		}
	})
}

// TestParseHeaderFast: the lines Call writes (appendHeader) take the fast path.
func TestParseHeaderFast(t *testing.T) {
	for _, line := range []string{`{"protocol":1}`, `{"protocol":1,"timeout":"1.5s"}`, `{"protocol":1,"timeout":"1m59.999s"}`} {
		if _, ok := parseHeaderFast([]byte(line)); !ok {
			t.Errorf("%s: not on the fast path", line)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	line := []byte(`{"protocol":1,"timeout":"1m59.999s"}`)
	for b.Loop() {
		if _, err := ParseHeader(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeaderJSON(b *testing.B) {
	line := []byte(`{"protocol":1,"timeout":"1m59.999s"}`)
	for b.Loop() {
		if _, err := parseHeaderJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}
