package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// AllowShorter travels from every host entry point (Client.Token,
// Transport, TokenSourceWith) through the real gRPC adapter to the
// keeper, and the keeper's Shorter mark comes back as
// ShorterThanRequested.
func TestAllowShorterCarriedThroughHost(t *testing.T) {
	svc := &fakeService{token: keeper.Token{
		Profile: "sddc", Provider: "vcf", Access: secret.New("tok"), TokenType: "Bearer",
		HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok"),
		ExpiresAt: time.Now().Add(time.Minute), Fingerprint: "sha256:01", Shorter: true,
	}}
	c := serve(t, svc)
	want := keeper.GetOptions{MinValidity: 10 * time.Minute, AllowShorter: true}
	got := func(what string) {
		t.Helper()
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if svc.gotOpts != want {
			t.Errorf("%s: the service got %+v, want %+v", what, svc.gotOpts, want)
		}
		svc.gotOpts = keeper.GetOptions{}
	}

	tok, err := c.Token(context.Background(), "sddc", TokenOptions{MinValidity: 10 * time.Minute, AllowShorter: true})
	if err != nil || !tok.ShorterThanRequested {
		t.Fatalf("Client.Token: %v, shorter=%v", err, tok != nil && tok.ShorterThanRequested)
	}
	got("Client.Token")

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer api.Close()
	tr := &Transport{Source: c, Profile: "sddc", MinValidity: 10 * time.Minute, AllowShorter: true}
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got("Transport")

	ts := TokenSourceWith(context.Background(), c, "sddc", TokenOptions{MinValidity: 10 * time.Minute, AllowShorter: true, ForceRefresh: true})
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	got("TokenSourceWith (ForceRefresh dropped)")
}
