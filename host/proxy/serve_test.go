package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// TestServe: clients may speak unencrypted HTTP/2 with prior knowledge;
// with KeepAlive the proxy asks for a token valid that long while it
// serves; Serve returns once its context ends.
func TestServe(t *testing.T) {
	up := httptest.NewServer(&upstream{})
	defer up.Close()
	f := &fakeTokens{}
	p, err := New(Options{Profile: "p", Upstream: up.URL, Tokens: f, KeepAlive: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, l) }()

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + l.Addr().String() + "/v1/domains")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
		t.Fatalf("%s %d, want HTTP/2.0 200", resp.Proto, resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		warm := slices.Contains(f.asked, time.Hour)
		f.mu.Unlock()
		if warm {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the keepalive never asked for a token valid for KeepAlive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}
