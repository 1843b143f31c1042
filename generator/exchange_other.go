//go:build !linux

package generator

import "errors"

// exchange is not available here; swapInto falls back to two renames.
func exchange(a, b string) error { return errors.ErrUnsupported }
