package vault

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		kind error
		msg  string
	}{
		{"permission denied", &api.ResponseError{StatusCode: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}},
			provider.ErrForbidden, "permission denied"},
		{"sealed", &api.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, provider.ErrUnavailable, "Vault is sealed"},
		{"rate limited", &api.ResponseError{StatusCode: 429}, provider.ErrUnavailable, "Too Many Requests"},
		{"not found", &api.ResponseError{StatusCode: 404}, provider.ErrBadConfig, "Not Found"},
		{"a proxy's body is not shown", &api.ResponseError{StatusCode: 502, RawError: true, Errors: []string{"<html>canary-body</html>"}},
			provider.ErrUnavailable, "Bad Gateway"},
		{"two errors", &api.ResponseError{StatusCode: 400, Errors: []string{"2 errors occurred:\n\t* a\n\t* b\n\n"}},
			provider.ErrBadConfig, "a; b"},
		{"refused", fmt.Errorf("giving up: %w", syscall.ECONNREFUSED), provider.ErrUnavailable, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify("read", "secret/data/x", tt.err)
			if !errors.Is(e, tt.kind) || e.Msg != tt.msg {
				t.Fatalf("classify = %q (%v), want %q (%v)", e.Msg, e.Kind, tt.msg, tt.kind)
			}
			if strings.Contains(e.Error(), "canary") {
				t.Fatalf("a raw body reached the message: %s", e)
			}
		})
	}
}
