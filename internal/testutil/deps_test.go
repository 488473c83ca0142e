package testutil

import (
	"slices"
	"testing"
)

// TestLinked: a family is its package and those below it, never a
// package whose path merely starts with the same letters.
func TestLinked(t *testing.T) {
	deps := []string{"net", "net/http", "net/httputil", "netip", "google.golang.org/grpc/codes", "os"}
	got := Linked(deps, []string{"net/http", "google.golang.org/grpc", "net"})
	want := []string{"net", "net/http", "net/httputil", "google.golang.org/grpc/codes"}
	if !slices.Equal(got, want) {
		t.Fatalf("Linked = %q, want %q", got, want)
	}
	if got := Linked(deps, nil); got != nil {
		t.Fatalf("Linked with no families = %q, want none", got)
	}
}
