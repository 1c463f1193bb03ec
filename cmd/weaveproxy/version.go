package main

import (
	"context"
	"fmt"
	"io"

	"github.com/weaveproxy/weaveproxy/internal/buildinfo"
)

// runVersion: `weaveproxy version` prints the version and commit the
// binary was built from (stamped by scripts/dist.sh).
func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version: unexpected argument %q", args[0])
	}
	fmt.Fprintln(stdout, buildinfo.Get())
	return nil
}
