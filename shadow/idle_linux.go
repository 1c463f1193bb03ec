package shadow

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// cpuTimes reads the machine's idle (idle and iowait) and total CPU time,
// in clock ticks, from the first line of /proc/stat.
func cpuTimes() (idle, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, 0, errors.New("shadow: /proc/stat: no cpu line")
	}
	// user nice system idle iowait irq softirq steal (guest time is in
	// user already).
	for i, x := range f[1:9] {
		v, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total, nil
}
