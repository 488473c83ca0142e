package e2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestExecStdinBoundedByTimeout: with the real binary, `sleep 8 |
// tokenkeeper get --timeout 2s` took 8 s and a stdin that never closed
// hung for ever. A stdin that brings nothing ends at --timeout with exit 2;
// one complete request on a stdin that stays open is answered at once.
func TestExecStdinBoundedByTimeout(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	tests := []struct {
		name, stdin, timeout string
		code                 int
		want                 string
		max                  time.Duration
	}{
		{"nothing arrives", "", "2s", 2, "no complete TokenRequest on stdin in time (nothing arrived) before --timeout 2s ran out", 5 * time.Second},
		{"one request, stdin left open", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}` + "\n", "20s",
			0, `"kind":"Token"`, 15 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close() // only at the end: the writer keeps stdin open
			if _, err := w.WriteString(tc.stdin); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
			defer cancel()
			cmd := tk.command(ctx, "get", "--timeout", tc.timeout)
			var out, errb bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &errb
			start := time.Now()
			_ = cmd.Run()
			took := time.Since(start)
			if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Fatalf("exit %d after %s, stdout %q stderr %q; want %d and %q", code, took, out.String(), errb.String(), tc.code, tc.want)
			}
			if took > tc.max {
				t.Fatalf("answered after %s, want within %s", took, tc.max)
			}
			t.Logf("exit %d after %s", tc.code, took.Round(time.Millisecond))
		})
	}
}
