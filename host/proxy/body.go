package proxy

import (
	"bytes"
	"io"
	"net/http"
)

// holdBody makes the body of out replayable (GetBody, which host.Transport
// needs to retry after a 401) when it holds at most limit bytes: those are
// read into memory first. A longer body streams as it arrives, after the
// part already read, and is not retried; so is every body when limit is
// negative. A declared Content-Length over limit is not read at all.
func holdBody(out *http.Request, limit int64) {
	if out.Body == nil || out.Body == http.NoBody || limit < 0 || out.ContentLength > limit {
		return
	}
	body := out.Body
	head, err := io.ReadAll(io.LimitReader(body, limit+1))
	switch {
	case err != nil:
		// The client's body failed mid-way: upstream must see it fail
		// too, never a request cut short as if complete.
		out.Body = readCloser{io.MultiReader(bytes.NewReader(head), errReader{err}), body}
	case int64(len(head)) <= limit:
		out.Body = readCloser{bytes.NewReader(head), body}
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(head)), nil }
	default:
		out.Body = readCloser{io.MultiReader(bytes.NewReader(head), body), body}
	}
}

// readCloser reads from Reader and closes the client's body.
type readCloser struct {
	io.Reader
	io.Closer
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
