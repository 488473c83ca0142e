package exec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

var requestSeeds = []string{
	`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"10m","forceRefresh":true}`,
	`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"sha256:00","reason":"401"}`,
	` {"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"}` + "\n",
	`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","Profile":"x","profile":"p"}`,
	`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"} {}`,
	`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":-1}`,
	`{"profile":"\ud800","minValidity":"1h\u0000"}`,
	`[{"a":1}]`,
	`"x"`,
	``,
}

// FuzzParseRequest: the strict decoder of both requests never panics,
// fails only with InvalidArgument, and accepts only a complete request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseTokenRequest(bytes.NewReader(data))
		checkRequestError(t, err)
		if err == nil && (req.Profile == "" || req.APIVersion != APIVersion || req.Kind != KindTokenRequest || req.MinValidity < 0) {
			t.Fatalf("accepted an incomplete TokenRequest: %+v", req)
		}
		inv, err := ParseInvalidateRequest(bytes.NewReader(data))
		checkRequestError(t, err)
		if err == nil && (inv.Profile == "" || inv.Fingerprint == "" || inv.Kind != KindInvalidateRequest) {
			t.Fatalf("accepted an incomplete InvalidateRequest: %+v", inv)
		}
	})
}

// FuzzReadRequest: reading the request off a stream, in two writes, means
// the same as parsing the whole input: the same request, or a refusal.
func FuzzReadRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		doc, err := ReadRequest(ctx, &chunks{parts: [][]byte{data[:cut], data[cut:]}}, KindTokenRequest)
		checkRequestError(t, err)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("a stream that ends was not read to its end")
		}
		whole, wholeErr := ParseTokenRequest(bytes.NewReader(data))
		if err != nil {
			if wholeErr == nil {
				t.Fatalf("ReadRequest refused (%v) what ParseTokenRequest accepts", err)
			}
			return
		}
		got, gotErr := ParseTokenRequest(bytes.NewReader(doc))
		if (gotErr == nil) != (wholeErr == nil) || got != whole {
			t.Fatalf("read then parsed: %+v, %v; parsed whole: %+v, %v", got, gotErr, whole, wholeErr)
		}
	})
}

func checkRequestError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidArgument || e.Message == "" {
		t.Fatalf("error %v is not an InvalidArgument *Error", err)
	}
}

// chunks yields its parts one Read at a time, then EOF.
type chunks struct{ parts [][]byte }

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}
