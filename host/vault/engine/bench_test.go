package engine

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// BenchmarkTokenRead is a warm token/<name> read inside the engine, without
// Vault's router and plugin transport: what the engine adds to a read.
func BenchmarkTokenRead(b *testing.B) {
	_, url := vcfSim(b, time.Hour)
	e := newEngine(b, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, canaryPassword))
	if _, err := e.token("sddc"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.token("sddc"); err != nil {
				b.Error(err) // Fatal is for the benchmark's own goroutine
				return
			}
		}
	})
}
