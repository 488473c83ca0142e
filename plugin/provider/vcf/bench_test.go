package vcf

import (
	"testing"
)

// BenchmarkLogin measures one POST /v1/tokens against the simulator over
// verified TLS (keep-alive connection).
func BenchmarkLogin(b *testing.B) {
	l := newLab(b, nil)
	p := l.provider(adminUser, adminPass)
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Login(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefresh measures one PATCH /v1/tokens/access-token/refresh.
func BenchmarkRefresh(b *testing.B) {
	l := newLab(b, nil)
	p := l.provider(adminUser, adminPass)
	g, err := p.Login(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Refresh(b.Context(), g); err != nil {
			b.Fatal(err)
		}
	}
}
