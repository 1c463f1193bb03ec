//go:build !linux

package shadow

import "errors"

// cpuTimes: only Linux is measured; elsewhere shadow work never waits for
// idle CPU (the queue and dry-run bounds still shed it).
func cpuTimes() (idle, total uint64, err error) {
	return 0, 0, errors.New("shadow: idle CPU is measured on Linux only")
}
