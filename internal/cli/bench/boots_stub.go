//go:build !pisim

package bench

import "errors"

// newBoots needs package pisim, which is not yet on this branch.
func newBoots(*options) (point, error) {
	return nil, errors.New("--mode boots: not built in: package pisim is missing")
}
