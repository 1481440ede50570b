// Package tftp is a TFTP server framework and client.
//
// # Limits
//
//   - Transfer modes: octet and netascii only ("mail" and others get
//     ERROR 4). netascii reads never offer tsize (the size after
//     translation is unknown).
//   - Options: blksize (RFC 2348; at least 8, clamped to
//     Server.MaxBlockSize), tsize (RFC 2349; in an RRQ any value asks for
//     the size, as with tftp-hpa), timeout (1..255 s), utimeout
//     (10000..255000000 µs, as tftp-hpa), windowsize (RFC 7440; 1..65535,
//     clamped to Server.MaxWindowSize, at most 32768). Other options are
//     ignored and not echoed; nonsense values get ERROR 8. No multicast
//     (RFC 2090).
//   - Block numbers roll over to 0 after 65535 by default (Rollover).
//   - A window of blocks is kept in memory per transfer: windowsize ×
//     (blksize + 4) bytes, up to 32768 × 65468 in theory; the default
//     MaxWindowSize 64 caps it at about 4 MiB.
//   - A read transfer also holds a 32 KiB read-ahead of its content
//     (unless blksize is more than 16 KiB, or the content lends its bytes
//     through Lender): 200 transfers in flight take about 6.5 MiB of it.
//     The content is read in 32 KiB pieces, each byte once, never past the
//     announced size.
//   - Replies come from the address a request was sent to only when the
//     main socket is a *net.UDPConn on Linux-like systems with IP_PKTINFO /
//     IPV6_PKTINFO; with another net.PacketConn, transfer sockets are bound
//     to the unspecified address.
//
// # Server
//
// A Server answers read requests (RRQ) through a Handler and, optionally,
// write requests (WRQ) through a WriteHandler. Each transfer gets its own
// UDP socket, bound to the local address the request arrived on (or, with
// SinglePort, the main socket), and its own goroutine for the request; the
// data phase of a read runs on an event loop (see Performance). The engine is
// strictly lock-step: a DATA block is sent again only when the retransmit
// timer fires or the client asks for it with an ACK for an earlier block of
// the window (RFC 7440), never because of a duplicate ACK (the Sorcerer's
// Apprentice problem, which hangs the Raspberry Pi 4 firmware). The timer
// adapts to the measured round trip (RFC 6298, Karn's rule) between
// Server.MinTimeout and Server.Timeout, unless the client asked for a fixed
// timeout. After the final ACK of a write the server stays on the transfer's
// socket for as long as the client's timer (its timeout option, else
// Server.Timeout), to ACK a last block resent because that ACK was lost.
//
// A request from the address and port of a running transfer is a
// retransmission and is dropped, with two exceptions for clients that
// reuse a port for their next request at once: once the transfer's
// exchange has ended (even while its goroutine still closes the file and
// logs) the request starts a new transfer, and a request that arrives
// after a read transfer has sent its last block (the final ACK not yet
// read) is held and started when that transfer completes, or dropped if
// it does not. Either way the client does not wait out its retransmit
// timeout.
//
// # Performance
//
// On Linux, read transfers run on event loops (Server.EventLoops, at most
// one per GOMAXPROCS by default, another starting once each has 32
// transfers): a lock-step DATA block costs the server one
// recvfrom(2) for the ACK, one sendto(2), and a share of one epoll_pwait(2)
// that reports every transfer socket ready at the same time; no goroutine
// is woken per block. A window of blocks goes out in one sendmmsg(2).
// Content is read ahead 32 KiB at a time; content implementing Lender
// lends its bytes instead, so each block is copied once, from the
// content's memory into the packet. Writes, SinglePort and other
// systems run each transfer in its own goroutine, where a block also costs
// a goroutine wake-up and a second recvfrom(2) (the runtime's poller tries
// once before it waits). The benchmark BenchmarkServerCPUPerGB in this
// package's tests measures server CPU seconds per GB against tftpd-hpa and
// dnsmasq. The server needs no tuning of the garbage collector: it
// allocates per transfer, not per block, and its peak RSS at 200 transfers
// of 1468-byte blocks stays under 32 MiB with the default GOGC. The default
// SinglePort=false is also the cheaper mode per block.
//
// Handlers report missing files with fs.ErrNotExist (ERROR 1), refusals with
// fs.ErrPermission (ERROR 2), and any other code with *Error. ServeMux
// routes by filename prefix, Chain tries handlers in turn, FileServer serves
// an fs.FS and DirWriter stores uploads without ever overwriting.
//
// # Packets
//
// ParsePacket decodes any packet; ParseAck, ParseData, AppendAck,
// AppendData and PutDataHeader are the allocation-free hot path.
package tftp
