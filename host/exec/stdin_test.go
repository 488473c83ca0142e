package exec

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const okRequest = `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"}`

// openStdin is a stdin whose writer sends the given chunks and then
// stays open until the test ends (or closes it when closeAfter).
func openStdin(t *testing.T, closeAfter bool, chunks ...string) io.Reader {
	t.Helper()
	r, w := io.Pipe()
	t.Cleanup(func() { _ = w.Close() })
	go func() {
		for _, c := range chunks {
			if _, err := w.Write([]byte(c)); err != nil {
				return
			}
		}
		if closeAfter {
			_ = w.Close()
		}
	}()
	return r
}

// TestReadRequestOpenStdin: one complete request on a stdin that never
// closes is answered at once (it used to wait for EOF for ever).
func TestReadRequestOpenStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	doc, err := ReadRequest(ctx, openStdin(t, false, okRequest[:20], okRequest[20:], "\n"), KindTokenRequest)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("answered after %s, want at once", d)
	}
	if _, err := ParseTokenRequest(strings.NewReader(string(doc))); err != nil || string(doc) != okRequest {
		t.Fatalf("doc %q: %v", doc, err)
	}
}

// TestReadRequestDeadline: a request that does not arrive (sleep 8 |
// tokenkeeper get) fails when ctx ends, as a bad request that says how far
// it came.
func TestReadRequestDeadline(t *testing.T) {
	for _, tc := range []struct {
		name, sent, want string
	}{
		{"nothing", "", "no complete TokenRequest on stdin in time (nothing arrived)"},
		{"half", okRequest[:30], "(30 bytes arrived, not a complete JSON object)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			var chunks []string
			if tc.sent != "" {
				chunks = append(chunks, tc.sent)
			}
			_, err := ReadRequest(ctx, openStdin(t, false, chunks...), KindTokenRequest)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("returned after %s, want about 200ms", d)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidArgument || !errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(e.Message, tc.want) {
				t.Fatalf("err = %v, want InvalidArgument wrapping the deadline, saying %q", err, tc.want)
			}
		})
	}
}

// TestReadRequestStrict: what ParseTokenRequest refused when it read to
// EOF is still refused when the request is read off the stream.
func TestReadRequestStrict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   string
	}{
		{"empty", nil, "no --profile given and no TokenRequest on stdin"},
		{"white space only", []string{" \n\t"}, "no --profile given and no TokenRequest on stdin"},
		{"second document in the same write", []string{okRequest + " {}"}, "more than one JSON document"},
		{"second document in a later write", []string{okRequest, "\n", "{}"}, "more than one JSON document"},
		{"garbage after the request", []string{okRequest + "\n", "x"}, "more than one JSON document"},
		// White space to Unicode, not to JSON: ParseTokenRequest refuses it.
		{"no-break space after the request", []string{okRequest + "\u00a0"}, "more than one JSON document"},
		{"vertical tab after the request", []string{okRequest, "\v"}, "more than one JSON document"},
		{"truncated", []string{okRequest[:30]}, "truncated JSON"},
		{"syntax", []string{`{"apiVersion" "x"}`}, "invalid JSON at byte"},
		{"too large", []string{`{"apiVersion":"` + strings.Repeat("x", MaxRequest) + `"}`}, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := ReadRequest(ctx, openStdin(t, true, tc.chunks...), KindTokenRequest)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidArgument || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("err = %v, want InvalidArgument saying %q", err, tc.want)
			}
		})
	}
	doc, err := ReadRequest(context.Background(), openStdin(t, true, "\n "+okRequest+"\n\n"), KindTokenRequest)
	if err != nil || string(doc) != okRequest {
		t.Fatalf("request with white space around it: %q, %v", doc, err)
	}
}
