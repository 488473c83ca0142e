package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

func TestUserFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    UserSpec
		wantErr bool
	}{
		{in: "alice=pw", want: UserSpec{"alice", "pw", ""}},
		{in: "alice=pw:VIEWER", want: UserSpec{"alice", "pw", "VIEWER"}},
		{in: "alice=pw:operator", want: UserSpec{"alice", "pw", "OPERATOR"}},
		{in: "alice=p:w=x:ADMIN", want: UserSpec{"alice", "p:w=x", "ADMIN"}},
		{in: "alice=pw:notarole", want: UserSpec{"alice", "pw:notarole", ""}},
		{in: "a@vsphere.local=b=c", want: UserSpec{"a@vsphere.local", "b=c", ""}},
		{in: "=pw", wantErr: true},
		{in: "alice", wantErr: true},
		{in: "alice=", wantErr: true},
		{in: "alice=:ADMIN", wantErr: true},
		{in: "alice=pw:ADMN", wantErr: true},
		{in: "alice=pw:READ_ONLY", wantErr: true},
		{in: "alice=pw:administrator", wantErr: true},
		{in: "alice=pw:View", wantErr: true},
		{in: "alice=pw:OPERATOR:VIEWER", want: UserSpec{"alice", "pw:OPERATOR", "VIEWER"}},
		{in: "alice=pw:ADMN:ADMIN", want: UserSpec{"alice", "pw:ADMN", "ADMIN"}},
		{in: "alice=p:w", want: UserSpec{"alice", "p:w", ""}},
		{in: "alice=pw:", want: UserSpec{"alice", "pw:", ""}},
		{in: "alice=pw:X1", want: UserSpec{"alice", "pw:X1", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got []UserSpec
			err := (&userList{roles: []string{"ADMIN", "OPERATOR", "VIEWER"}, list: &got}).Set(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestTokenFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    TokenSpec
		wantErr bool
	}{
		{in: "tok", want: TokenSpec{"tok", ""}},
		{in: "tok:alice@ExampleOrg", want: TokenSpec{"tok", "alice@ExampleOrg"}},
		{in: "a:b:carol", want: TokenSpec{"a:b", "carol"}},
		{in: "tok:", wantErr: true},
		{in: ":bob", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got []TokenSpec
			err := (&tokenList{list: &got}).Set(tc.in)
			if tc.wantErr != (err != nil) || (!tc.wantErr && got[0] != tc.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		want       int
		wantStdout string
	}{
		{nil, 2, ""},
		{[]string{"--help"}, 0, "usage: tokenkeeper-sim"},
		{[]string{"vcf", "--help"}, 0, "--access-ttl"},
		{[]string{"nope"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--access-ttl", "soon"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--access-ttl", "0s"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--ca-out", "x.pem"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "extra"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--login-status", "7"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--service-account", "t"}, 2, ""},
		{[]string{"vcf", "--user", "a=b", "--listen", "256.0.0.1:0"}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(t.Context(), tc.args, &stdout, &stderr)
			if got != tc.want {
				t.Fatalf("exit %d, want %d; stderr %q", got, tc.want, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Fatalf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			if tc.want != 0 && (stdout.Len() != 0 || stderr.Len() == 0) {
				t.Fatalf("failure must explain on stderr only: stdout %q", stdout.String())
			}
		})
	}
}

// started runs the command in-process and returns the ready line.
func started(t *testing.T, ctx context.Context, args ...string) (sim.Ready, <-chan int, *testutil.SyncBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	stderr := &testutil.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, pw, stderr)
		pw.Close()
	}()
	rd := bufio.NewReader(pr)
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line (stderr %q): %v", stderr.String(), err)
	}
	var ready sim.Ready
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, rd) }()
	return ready, done, stderr
}

func TestRunVCFTLS(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready, done, stderr := started(t, ctx, "vcf", "--tls", "--ca-out", caPath,
		"--user", "admin@vsphere.local=S3cr:et=1", "--access-ttl", "3s", "--refresh-ttl", "60m")
	if !strings.HasPrefix(ready.URL, "https://127.0.0.1:") || ready.CAFile != caPath {
		t.Fatalf("ready %+v", ready)
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Post(ready.URL+"/v1/tokens", "application/json",
		strings.NewReader(`{"username":"admin@vsphere.local","password":"S3cr:et=1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var pair struct {
		Access string `json:"accessToken"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	if resp.StatusCode != 201 || pair.Access == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	c.CloseIdleConnections()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after cancel")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "POST /v1/tokens 201") {
		t.Fatalf("request log %q", logs)
	}
	if strings.Contains(logs, "S3cr") || strings.Contains(logs, pair.Access) {
		t.Fatal("stderr holds a secret")
	}
}

func TestRunStopsOnSIGTERM(t *testing.T) {
	ready, done, _ := started(t, t.Context(), "vcf", "--user", "a=b")
	if !strings.HasPrefix(ready.URL, "http://127.0.0.1:") || ready.CAFile != "" {
		t.Fatalf("ready %+v", ready)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
}
