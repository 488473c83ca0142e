package keeper

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

func limit(t *testing.T, provider string, names ...string) role.Limit {
	t.Helper()
	l, err := role.Parse(provider, names)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A login whose token carries more than max_role is revoked at once and
// fails with PermissionDenied naming account, role and limit; it is no
// failed login and leaves no guard record, so the next Get tries again.
func TestMaxRoleRevokesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.principal, f.roles = "svc-automation@vsphere.local", []string{role.Admin}
		store := newCountingStore()
		k := newTestKeeper(t, f, Options{Guards: store}, func(s *ProfileSpec) {
			s.Name, s.MaxRole = "reporting", limit(t, "vcf", "VIEWER")
		})
		for i := range 2 {
			_, err := k.Get(context.Background(), "reporting", GetOptions{})
			var re *RoleError
			if !errors.As(err, &re) || !errors.Is(err, provider.ErrForbidden) || errors.Is(err, provider.ErrCredentialsRejected) {
				t.Fatalf("Get %d: %v, want a *RoleError of PermissionDenied", i, err)
			}
			const want = "profile reporting allows at most VIEWER; svc-automation@vsphere.local has ADMIN: use a VIEWER service account"
			if err.Error() != want {
				t.Fatalf("message %q, want %q", err.Error(), want)
			}
		}
		logins, _, revokes, _ := f.snapshot()
		if logins != 2 || revokes != 2 {
			t.Fatalf("logins %d revokes %d, want 2 and 2 (each refused login revoked, none held back)", logins, revokes)
		}
		s := statusOf(t, k, "reporting")
		if s.Counts.LoginFailures != 0 || s.Counts.Revocations != 2 || s.Fingerprint != "" || s.State == StateRejected {
			t.Fatalf("status after refusals: %+v", s)
		}
		if r, ok := store.record(); ok {
			t.Fatalf("a guard record after a role refusal: %+v", r)
		}
	})
}

// A token within max_role is handed out with its principal and role; one
// whose role the upstream did not say is refused (fail closed); no
// max_role accepts any.
func TestMaxRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		roles []string
		limit []string
		ok    bool
	}{
		{"viewer under VIEWER", []string{role.Viewer}, []string{"VIEWER"}, true},
		{"operator under ADMIN", []string{role.Operator}, []string{"ADMIN"}, true},
		{"operator over VIEWER", []string{role.Operator}, []string{"VIEWER"}, false},
		{"unknown role under a limit", nil, []string{"ADMIN"}, false},
		{"admin without a limit", []string{role.Admin}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.principal, f.roles = "svc@vsphere.local", tc.roles
				k := newTestKeeper(t, f, Options{}, func(s *ProfileSpec) {
					if tc.limit != nil {
						s.MaxRole = limit(t, "vcf", tc.limit...)
					}
				})
				tok, err := k.Get(context.Background(), "p", GetOptions{})
				if tc.ok != (err == nil) {
					t.Fatalf("Get: %v, want ok=%v", err, tc.ok)
				}
				if tc.ok && (tok.Principal != "svc@vsphere.local" || tok.Role != role.Join(tc.roles)) {
					t.Fatalf("token names %q %q", tok.Principal, tok.Role)
				}
				if tc.ok {
					if s := statusOf(t, k, "p"); s.Principal != tok.Principal || s.Role != tok.Role {
						t.Fatalf("status names %q %q", s.Principal, s.Role)
					}
				}
			})
		})
	}
}

// A refused session that cannot be revoked is said so, and not counted
// as revoked.
func TestMaxRoleRevokeFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.roles = []string{role.Admin}
		f.revokeErrs = []error{&provider.Error{Op: "revoke", Status: 503, Kind: provider.ErrUnavailable}}
		k := newTestKeeper(t, f, Options{}, func(s *ProfileSpec) { s.MaxRole = limit(t, "vcf", "OPERATOR") })
		_, err := k.Get(context.Background(), "p", GetOptions{})
		if !errors.Is(err, provider.ErrForbidden) || !strings.Contains(err.Error(), "could not be revoked") {
			t.Fatalf("Get: %v", err)
		}
		if s := statusOf(t, k, "p"); s.Counts.Revocations != 0 || s.Counts.Logins != 1 {
			t.Fatalf("counts %+v", s.Counts)
		}
	})
}
