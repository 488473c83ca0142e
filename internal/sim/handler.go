package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is the body of POST /_sim/faults: the next Count requests whose
// path matches Path fail or stall that way. Path "" matches every path, a
// trailing "*" makes it a prefix. Delay (a Go duration, "2s") stalls first;
// then Status (when non-zero) is returned instead of the real answer, or
// the connection is reset (Reset), or the request proceeds normally.
type Fault struct {
	Path   string `json:"path"`
	Method string `json:"method,omitempty"`
	Status int    `json:"status,omitempty"`
	Count  int    `json:"count,omitempty"`
	Delay  string `json:"delay,omitempty"`
	Reset  bool   `json:"reset,omitempty"`

	delay time.Duration
}

func (f *Fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if p, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(r.URL.Path, p)
	}
	return f.Path == "" || f.Path == r.URL.Path
}

// handler serves /_sim/ and injects faults in front of a Backend.
type handler struct {
	b      Backend
	mu     sync.Mutex // guards faults
	faults []*Fault
}

// NewHandler wraps b with the inspection and fault-injection endpoints:
// GET /_sim/stats, POST /_sim/faults, GET /_sim/faults, POST /_sim/reset
// and POST /_sim/expire {"what":"access|refresh|sessions|all"}. A known path
// asked with another method is answered 405 with an Allow header.
func NewHandler(b Backend) http.Handler { return &handler{b: b} }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		h.serveSim(w, r)
		return
	}
	f := h.take(r)
	if f == nil {
		h.b.ServeHTTP(w, r)
		return
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// The client gave up: answer nothing. Returning normally
			// would send an implicit 200 that a racing client may read.
			panic(http.ErrAbortHandler)
		}
	}
	switch {
	case f.Reset:
		resetConn(w)
	case f.Status != 0:
		if f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, f.Status, map[string]string{"message": "fault injected by tokenkeeper-sim"})
	default:
		h.b.ServeHTTP(w, r)
	}
}

// take consumes one count of the first fault matching r.
func (h *handler) take(r *http.Request) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, f := range h.faults {
		if !f.matches(r) {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			h.faults = append(h.faults[:i:i], h.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// resetConn drops the connection without an answer: a TCP RST where the
// connection can be hijacked, otherwise an aborted response.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// simRoutes maps each /_sim/ path to its handlers by method.
func (h *handler) simRoutes(path string) map[string]http.HandlerFunc {
	switch path {
	case "/_sim/stats":
		return map[string]http.HandlerFunc{http.MethodGet: h.stats}
	case "/_sim/faults":
		return map[string]http.HandlerFunc{http.MethodGet: h.listFaults, http.MethodPost: h.addFault}
	case "/_sim/reset":
		return map[string]http.HandlerFunc{http.MethodPost: h.reset}
	case "/_sim/expire":
		return map[string]http.HandlerFunc{http.MethodPost: h.expire}
	}
	return nil
}

// serveSim answers /_sim/: 404 for an unknown path, 405 with an Allow
// header for a known path asked with the wrong method.
func (h *handler) serveSim(w http.ResponseWriter, r *http.Request) {
	routes := h.simRoutes(r.URL.Path)
	if routes == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such simulator endpoint"})
		return
	}
	if f, ok := routes[r.Method]; ok {
		f(w, r)
		return
	}
	allow := slices.Sorted(maps.Keys(routes))
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
		"message": fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")),
	})
}

func (h *handler) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.b.Stats())
}

func (h *handler) listFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.pending())
}

func (h *handler) reset(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	h.faults = nil
	h.mu.Unlock()
	h.b.Reset()
	w.WriteHeader(http.StatusNoContent)
}

// pending copies the queued faults: take mutates Count under the lock.
func (h *handler) pending() []Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := make([]Fault, 0, len(h.faults))
	for _, f := range h.faults {
		list = append(list, *f)
	}
	return list
}

func (h *handler) addFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := decodeStrict(r.Body, &f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	if err := f.validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	h.mu.Lock()
	h.faults = append(h.faults, &f)
	h.mu.Unlock()
	writeJSON(w, http.StatusCreated, &f)
}

func (f *Fault) validate() error {
	if f.Delay != "" {
		d, err := time.ParseDuration(f.Delay)
		if err != nil || d < 0 {
			return fmt.Errorf("delay %q is not a duration like 2s", f.Delay)
		}
		f.delay = d
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("status %d is not an HTTP status", f.Status)
	}
	if f.Status == 0 && f.delay == 0 && !f.Reset {
		return fmt.Errorf("a fault needs a status, a delay or reset")
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	return nil
}

func (h *handler) expire(w http.ResponseWriter, r *http.Request) {
	var req struct {
		What string `json:"what"`
	}
	if err := decodeStrict(r.Body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	if err := h.b.Expire(req.What); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func decodeStrict(body io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
