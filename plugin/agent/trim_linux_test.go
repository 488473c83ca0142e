package agent

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"testing"
)

// TestReleaseCodeShrinksResidentCode: after releaseCode the pages of the
// executable's code and read-only data mapped in this process are at
// most half of what they were: an idle agent's resident size is mostly
// code it ran only while starting.
func TestReleaseCodeShrinksResidentCode(t *testing.T) {
	before := residentCode(t)
	releaseCode()
	after := residentCode(t)
	if before < 1<<20 {
		t.Fatalf("only %d KiB of code resident before: the test proves nothing", before>>10)
	}
	if after > before/2 {
		t.Fatalf("resident code %d KiB after releaseCode, %d KiB before: want at most half", after>>10, before>>10)
	}
}

// residentCode is the Rss of this executable's r-xp and r--p mappings.
func residentCode(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	total, in := 0, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		switch {
		case len(f) >= 5 && bytes.Contains(f[0], []byte("-")) && !bytes.HasSuffix(f[0], []byte(":")):
			in = len(f) >= 6 && string(f[5]) == exe && (string(f[1]) == "r-xp" || string(f[1]) == "r--p")
		case in && len(f) >= 2 && string(f[0]) == "Rss:":
			kb, _ := strconv.Atoi(string(f[1]))
			total += kb << 10
		}
	}
	return total
}
