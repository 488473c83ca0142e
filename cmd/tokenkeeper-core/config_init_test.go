package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// TestConfigInit writes a starter file that passes config check (and
// logs in), with private modes, and never overwrites it.
func TestConfigInit(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	dir := filepath.Join(t.TempDir(), "new", "tokenkeeper")
	c.env["TOKENKEEPER_CONFIG"] = filepath.Join(dir, "config.yaml")
	ctx := context.Background()
	args := []string{"config", "init", "--profile", "lab", "--provider", "vcf", "--url", u.srv.URL,
		"--ca-file", u.caFile, "--username", testUser, "--password-env", "TK_TEST_PW"}
	if o := c.run(ctx, "", args...); o.code != 0 {
		t.Fatalf("init: exit %d: %s", o.code, o.stderr)
	}
	fi, err := os.Stat(c.env["TOKENKEEPER_CONFIG"])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v; want 0700", err)
	}
	if o := c.run(ctx, "", "config", "check", "--online"); o.code != 0 || !strings.Contains(o.stdout, "lab: ok") {
		t.Fatalf("check of the starter file: exit %d: %s%s", o.code, o.stdout, o.stderr)
	}
	before, _ := os.ReadFile(c.env["TOKENKEEPER_CONFIG"])
	if o := c.run(ctx, "", args...); o.code != exec.ExitUsage || !strings.Contains(o.stderr, "never overwrites") {
		t.Errorf("second init: exit %d: %s", o.code, o.stderr)
	}
	if after, _ := os.ReadFile(c.env["TOKENKEEPER_CONFIG"]); !bytes.Equal(before, after) {
		t.Error("the second init changed the file")
	}
	if o := c.run(ctx, "", "config", "init", "--provider", "vcd", "--url", u.srv.URL, "--username", "u",
		"--password-env", "X"); o.code != exec.ExitUsage || !strings.Contains(o.stderr, "--org") {
		t.Errorf("vcd without org: exit %d: %s", o.code, o.stderr)
	}
}

// TestConfigInitRefusesWhatWouldNotLoad: a bad profile name is reported
// as config check would, and no file is left behind.
func TestConfigInitRefusesWhatWouldNotLoad(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	c.env["TOKENKEEPER_CONFIG"] = filepath.Join(t.TempDir(), "c.yaml")
	o := c.run(context.Background(), "", "config", "init", "--profile", "sd dc", "--provider", "vcf",
		"--url", "https://sddc.example.com", "--username", "u", "--password-env", "X")
	if o.code != exec.ExitUsage || !strings.Contains(o.stderr, "c.yaml:") || !strings.Contains(o.stderr, "profile name") {
		t.Errorf("exit %d: %s", o.code, o.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(c.env["TOKENKEEPER_CONFIG"])); len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}
