//go:build !linux

package web

import "time"

// cpuTime is not measured on this platform; CPU usage reads 0.
func cpuTime() time.Duration { return 0 }

// physicalMemory is not known on this platform.
func physicalMemory() uint64 { return 0 }
