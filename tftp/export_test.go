package tftp

import (
	"net"
	"time"
)

// ClientGetForTest exposes the in-package test client to the external tests (which
// may import tftptest): it reads file from srv with opts, resending after
// timeout, giving up after retries, and dallying after the final ACK.
func ClientGetForTest(conn net.PacketConn, srv net.Addr, file string, opts Options, timeout time.Duration, retries int) ([]byte, error) {
	res, err := clientGet(conn, srv, file, getOpts{opts: opts, timeout: timeout, retries: retries, dally: true})
	if err != nil {
		return nil, err
	}
	return res.data, nil
}
