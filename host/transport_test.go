package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// fakeTokens hands out "tok-N", moving to the next N when the current
// token is invalidated by its fingerprint.
type fakeTokens struct {
	mu          sync.Mutex // guards every field
	n           int
	header      string // header name; "" means Authorization
	err         error
	gets        int
	invalidated []string
	minValidity time.Duration
	// stuck: Invalidate records the call but the service keeps handing
	// out the same token (it did not drop it).
	stuck bool
}

func (f *fakeTokens) current() *Token {
	v := fmt.Sprintf("tok-%d", f.n)
	name, value := f.header, "Bearer "+v
	if name == "" {
		name = "Authorization"
	} else {
		value = v
	}
	return &Token{Profile: "p", TokenType: "Bearer", HeaderName: name, Access: secret.New(v),
		HeaderValue: secret.New(value), Fingerprint: "fp-" + v, ExpiresAt: time.Now().Add(time.Hour)}
}

func (f *fakeTokens) Token(_ context.Context, _ string, o TokenOptions) (*Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	f.minValidity = o.MinValidity
	if f.err != nil {
		return nil, f.err
	}
	return f.current(), nil
}

func (f *fakeTokens) Invalidate(_ context.Context, _, fp, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, fp)
	if fp == f.current().Fingerprint && !f.stuck {
		f.n++
	}
	return nil
}

// upstream accepts only the token named by valid and records what it saw.
type upstream struct {
	mu     sync.Mutex // guards seen and bodies
	valid  string
	seen   []string
	bodies []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Get("Authorization"))
	u.bodies = append(u.bodies, string(b))
	valid := u.valid
	u.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+valid {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func TestTransportSendsHeaderWithoutMutatingRequest(t *testing.T) {
	up := &upstream{valid: "tok-0"}
	srv := httptest.NewServer(up)
	defer srv.Close()
	src := &fakeTokens{}
	c := &http.Client{Transport: &Transport{Source: src, Profile: "p", MinValidity: time.Minute}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/domains", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK || len(up.seen) != 1 || up.seen[0] != "Bearer tok-0" {
		t.Errorf("status %d, upstream saw %q", resp.StatusCode, up.seen)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was modified")
	}
	if src.minValidity != time.Minute {
		t.Errorf("MinValidity sent = %v", src.minValidity)
	}
}

func TestTransportRetriesOnceAfter401(t *testing.T) {
	tests := []struct {
		name      string
		body      func() io.Reader
		valid     string
		wantCalls int
		wantCode  int
		wantInval int
	}{
		{"no body, refreshed token accepted", nil, "tok-1", 2, 200, 1},
		{"replayable body", func() io.Reader { return strings.NewReader("payload") }, "tok-1", 2, 200, 1},
		{"unreplayable body is not retried, but the token is invalidated", func() io.Reader { return io.MultiReader(strings.NewReader("payload")) }, "tok-1", 1, 401, 1},
		{"second 401 is returned, not retried again; both tokens invalidated", nil, "never", 2, 401, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &upstream{valid: tt.valid}
			srv := httptest.NewServer(up)
			defer srv.Close()
			src := &fakeTokens{}
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/domains", body)
			resp, err := (&Transport{Source: src, Profile: "p"}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != tt.wantCode || len(up.seen) != tt.wantCalls || len(src.invalidated) != tt.wantInval {
				t.Fatalf("status %d, upstream calls %d (%q), invalidations %v", resp.StatusCode, len(up.seen), up.seen, src.invalidated)
			}
			if tt.wantInval >= 1 && src.invalidated[0] != "fp-tok-0" {
				t.Errorf("invalidated %v, want the rejected token's fingerprint", src.invalidated)
			}
			for i, b := range up.bodies {
				if tt.body != nil && b != "payload" {
					t.Errorf("attempt %d sent body %q", i, b)
				}
			}
		})
	}
}

// TestTransportInvalidatesUnreplayable: a 401 to a request that cannot be
// replayed still invalidates its token, so the next request carries a new
// one instead of the rejected token until it expires (client-go's exec
// authenticator does the same).
func TestTransportInvalidatesUnreplayable(t *testing.T) {
	up := &upstream{valid: "tok-1"}
	srv := httptest.NewServer(up)
	defer srv.Close()
	src := &fakeTokens{}
	tr := &Transport{Source: src, Profile: "p"}
	post, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/domains", io.MultiReader(strings.NewReader("payload")))
	resp, err := tr.RoundTrip(post)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	get, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/domains", nil)
	if resp, err = tr.RoundTrip(get); err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK || len(up.seen) != 2 || up.seen[1] != "Bearer tok-1" {
		t.Fatalf("second request: status %d, upstream saw %q", resp.StatusCode, up.seen)
	}
}

// TestTransportNoRetryWithTheSameToken: when the service hands out the
// rejected token again (it did not drop it), resending it is pointless:
// the caller gets the 401.
func TestTransportNoRetryWithTheSameToken(t *testing.T) {
	up := &upstream{valid: "never"}
	srv := httptest.NewServer(up)
	defer srv.Close()
	src := &fakeTokens{stuck: true}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/domains", nil)
	resp, err := (&Transport{Source: src, Profile: "p"}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusUnauthorized || len(up.seen) != 1 || len(src.invalidated) != 1 {
		t.Fatalf("status %d, upstream saw %q, invalidations %v; want one 401, no resend of the same token",
			resp.StatusCode, up.seen, src.invalidated)
	}
}

// TestTransportConcurrent401sInvalidateOnce: many requests rejected with
// one token cause one Invalidate, and all of them are retried with the
// next token.
func TestTransportConcurrent401sInvalidateOnce(t *testing.T) {
	const n = 20
	var (
		mu      sync.Mutex // guards arrived
		arrived int
		all     = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			return
		}
		// Hold every first attempt until all n have been sent with
		// tok-0, so all n get their 401 for the same token.
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	src := &fakeTokens{}
	tr := &Transport{Source: src, Profile: "p"}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/domains", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return
			}
			drain(resp)
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d, want 200 after the retry", i, c)
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.invalidated) != 1 {
		t.Fatalf("%d Invalidate calls for one rejected token, want 1", len(src.invalidated))
	}
}

func TestTransportNeverSendsTokenToAnotherHost(t *testing.T) {
	elsewhere := &upstream{valid: "x"}
	other := httptest.NewServer(elsewhere) // another port: another origin
	defer other.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	}))
	defer home.Close()

	c := &http.Client{Transport: &Transport{Source: &fakeTokens{}, Profile: "p"}}
	resp, err := c.Get(home.URL + "/v1/domains")
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if len(elsewhere.seen) != 1 {
		t.Fatalf("redirect target saw %d requests, want 1", len(elsewhere.seen))
	}
	if elsewhere.seen[0] != "" {
		t.Errorf("the token leaked to another host after a redirect: Authorization %q", elsewhere.seen[0])
	}
}

func TestTransportConfiguredOrigin(t *testing.T) {
	up := &upstream{valid: "tok-0"}
	srv := httptest.NewServer(up)
	defer srv.Close()
	tr := &Transport{Source: &fakeTokens{}, Profile: "p", Origin: "https://sddc.example"}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if len(up.seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(up.seen))
	}
	for _, h := range up.seen {
		if h != "" {
			t.Errorf("token sent to %s although Origin is https://sddc.example", srv.URL)
		}
	}
}

func TestTransportCustomHeaderAndErrors(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("x-vcloud-authorization")
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/org", nil)
	resp, err := (&Transport{Source: &fakeTokens{header: "x-vcloud-authorization"}, Profile: "p"}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if got != "tok-0" {
		t.Errorf("x-vcloud-authorization = %q, want the raw token", got)
	}

	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if _, err := (&Transport{Source: &fakeTokens{err: ErrUnavailable}, Profile: "p"}).RoundTrip(req); !errors.Is(err, ErrUnavailable) {
		t.Errorf("token error = %v, want ErrUnavailable", err)
	}
}

func TestTokenSource(t *testing.T) {
	ts := TokenSource(context.Background(), &fakeTokens{}, "p", time.Minute)
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != "tok-0" || tok.Type() != "Bearer" || !tok.Valid() {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	if _, err := TokenSource(context.Background(), &fakeTokens{header: "x-vcloud-authorization"}, "p", 0).Token(); err == nil {
		t.Error("a legacy vcloud header must be refused: oauth2 would send it as Authorization")
	}
}
