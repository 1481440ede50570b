//go:build !linux

package serve

// setBatchScheduling does nothing where there is no SCHED_BATCH.
func setBatchScheduling() (int, error) { return 0, nil }
