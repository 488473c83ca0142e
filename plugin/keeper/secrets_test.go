package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

const canary = "CANARY-7f3a"

// No secret — password, access token, refresh id — reaches a log line at
// trace level, an error string or the status, whatever happens.
func TestNoSecretsInLogsErrorsOrStatus(t *testing.T) {
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", json), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs testutil.SyncBuffer
				f := newFake()
				f.prefix, f.good, f.password = canary+"-", canary+"-pw", canary+"-wrong"
				store := newCountingStore()
				k := newTestKeeper(t, probingFake{f}, Options{Logger: traceLogger(&logs, json), Guards: store},
					func(s *ProfileSpec) { s.Keepalive = 7 * time.Minute })
				var seen []string
				record := func(err error) {
					if err != nil {
						seen = append(seen, err.Error(), fmt.Sprintf("%+v|%#v", err, err))
					}
				}
				ctx := context.Background()
				_, err := k.Get(ctx, "p", GetOptions{})
				record(err)
				_, err = k.Get(ctx, "p", GetOptions{}) // refused by the guard
				record(err)
				f.set(func(f *fake) { f.password = f.good })
				tok, err := k.Get(ctx, "p", GetOptions{})
				record(err)
				seen = append(seen, fmt.Sprintf("%+v|%#v|%v", tok, tok, tok))
				callEvery(t, k, time.Minute, 3*time.Hour) // refreshes, keepalives
				_, err = k.Invalidate(ctx, "p", mustGet(t, k, GetOptions{}).Fingerprint, "401 on GET /v1/domains")
				record(err)
				f.set(func(f *fake) { f.refreshErrs = []error{unavailable()}; f.probeErrs = []error{sessionDead()} })
				_, err = k.Get(ctx, "p", GetOptions{})
				record(err)
				seen = append(seen, fmt.Sprintf("%+v", k.Status()))
				record(k.Revoke(ctx, "p"))
				mustGet(t, k, GetOptions{})
				record(k.Close(ctx))

				out := logs.String()
				if !strings.Contains(out, "sha256:") || !strings.Contains(out, "login failed; this credential") {
					t.Fatal("the trace log lacks the expected lines; the test proves nothing")
				}
				// Neither the password nor a fast hash of it: an unsalted
				// digest of a low-entropy password can be tested offline.
				forbidden := []string{canary}
				for _, pw := range []string{f.good, canary + "-wrong"} {
					material := secret.New("user\x00" + pw)
					sum := sha256.Sum256([]byte(material.Reveal()))
					forbidden = append(forbidden, material.Fingerprint(), hex.EncodeToString(sum[:8]),
						hex.EncodeToString(sum[:]), credentialID(pw).Fingerprint())
				}
				for i, line := range strings.Split(out, "\n") {
					for j, s := range forbidden {
						if strings.Contains(line, s) {
							t.Errorf("log line %d holds secret or digest %d (not printed)", i+1, j)
						}
					}
				}
				for i, s := range seen {
					if strings.Contains(s, canary) {
						t.Errorf("error or status %d holds a secret (not printed)", i)
					}
				}
			})
		})
	}
}
