//go:build linux || darwin

package agentconn

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

// TestFDDirListsOpenDescriptors: the platform's descriptor directory
// (/proc/self/fd, /dev/fd on macOS) lists a descriptor this process just
// opened, so eachFD takes its fast path rather than the scan.
func TestFDDirListsOpenDescriptors(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatalf("%s: %v", fdDir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	if want := strconv.Itoa(int(f.Fd())); !slices.Contains(names, want) {
		t.Errorf("%s lists %v, not the open descriptor %s", fdDir, names, want)
	}
}
