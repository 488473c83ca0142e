package agent

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// releaseCode drops from this process's resident set the pages of its
// own executable's code and read-only data (the mappings r-xp and r--p of
// the executable). Starting up touches most of them — every package's
// init, the CLI, the configuration loader — while an idle agent runs a
// small part; the kernel maps a dropped page back from the page cache on
// its next use (a minor fault), and no data is lost: the mappings are
// read-only and private, so no page of them was ever written.
func releaseCode() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || (string(f[1]) != "r-xp" && string(f[1]) != "r--p") {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		_ = madvise(uintptr(start), uintptr(end-start))
	}
}

func madvise(addr, length uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_MADVISE, addr, length, unix.MADV_DONTNEED)
	if e != 0 {
		return e
	}
	return nil
}
