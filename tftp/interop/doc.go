// Package interop holds tests only: it checks nobodd-go's TFTP server
// against real clients nobody here wrote (tftp-hpa's tftp, curl, atftp,
// busybox tftp, github.com/pin/tftp/v3 and pack.ag/tftp), downloading and
// uploading files of awkward sizes at several block and window sizes and
// comparing SHA-256 sums.
//
// Limits: loopback only (127.0.0.0/8); each external client runs as a child
// process with a deadline and is killed by its PID when it overruns; a
// client missing from the machine skips its test, or fails it under CI=true
// (see internal/testpeer). The facts found about each client (the options it
// really sends) are recorded in the tests' comments and logs.
package interop
