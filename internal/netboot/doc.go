// Package netboot is the board router of nobodd-go: a tftp.Handler that
// maps a Raspberry Pi's TFTP request to a board, the board's disk image, the
// FAT boot partition inside it, and a file there.
//
// # Limits
//
//   - Read requests only; uploads are the daemon's business (tftp.DirWriter
//     on the root directory).
//   - A file name may be at most 1024 bytes long, each '/'-separated element
//     at most 255 bytes. One leading '/' is tolerated and removed (clients
//     such as tftp-hpa's send "/name"; tftp-hpa's server strips it too); two
//     or more are refused, as are empty elements, "." and "..", backslashes
//     and NUL bytes. Refused names get ERROR 2 with the reason.
//   - Images are read, never written. An image replaced by rename (a new
//     inode) or changed in place (new size or modification time) is noticed
//     on the next request and opened again; transfers already running finish
//     from the file they started on, so with replacement by rename a transfer
//     never mixes old and new bytes. Writing into an image in place while
//     a transfer reads it cannot be made safe and is not supported.
//   - Boards are matched by the first path element only. When several boards
//     share an ip, an unprefixed request goes to the first of them by name.
//   - The block cache (see Cache below) holds at most Config.CacheBytes bytes
//     (DefaultCacheBytes, 16 MiB, when 0) for all images together; files of
//     the root directory are not cached (the kernel's page cache serves
//     them). Its least-recently-used eviction is not scan-resistant: when
//     the files a storm of boards reads exceed the budget, chunks are read
//     from the image again, at worst once per board as without the cache.
//     A transfer served from the cache holds the chunk it sends from (one
//     of at most 64 KiB) until it moves on, also after that chunk's
//     eviction, in place of the 32 KiB read-ahead it would have otherwise.
//
// # Routing
//
// A request "PREFIX/path" whose first element is a board's serial number
// (8 hex digits, any case), its MAC address in the Pi's dash form
// (TFTP_PREFIX=2, "dc-a6-32-01-36-c2") or its custom prefix (TFTP_PREFIX=1)
// is served from that board's boot partition, with case-insensitive lookup
// as the Pi's firmware expects. A board limited to an ip answers only that
// client (IPv4 clients on a dual-stack socket arrive unmapped); any other
// client gets ERROR 2, logged at Warn with both addresses.
//
// A request with no board prefix (the Pi 3 boot ROM's bootcode.bin, or any
// Pi that found no start*.elf under its prefix) is served from the board
// whose ip is the client's, then from the root directory (Router.Root),
// then answered ERROR 1. A first element shaped like a serial number or a
// MAC that belongs to no board is looked up in the root directory only, and
// logged as an unknown board when it is not there.
//
// Missing files get ERROR 1 at once. A board whose image is missing, lacks
// the configured partition or whose partition is not FAT gets ERROR 0 with a
// short message; the full reason, with the image path, goes to the log at
// Error level. Host paths are never sent to clients.
//
// # Cache
//
// Files of boot partitions are read through a block cache, so that a storm
// of boards booting from one image reads each part of a file from the image
// once rather than once per board. It holds aligned chunks of 64 KiB (the
// last chunk of a file shorter) keyed by the file's first cluster and size,
// and belongs to the image's view: a replaced image gets a new view and so
// an empty cache, and never serves bytes of the version it replaced; the
// old view's chunks go when its last transfer ends. Chunks are loaded only
// for files that two or more transfers read at the same time: a lone
// reader (one Pi booting, one big file streamed through a budget smaller
// than it) reads the image directly, sparing the cache's extra copy and
// churn, though it is served any chunk already cached. A chunk wanted by
// several transfers at once is read once, the others waiting for it. One
// budget is shared by all views, evicting the least recently used chunk
// first, so that memory does not grow with the count of images and the one
// being booted gets the room; a chunk that cannot fit because the whole
// budget is held by chunks being read is read directly, not cached.
// Reading through the cache gives the same bytes and the same errors as
// reading the file directly; a read error is never cached. CacheBytes < 0
// turns the cache off. The content handed to the TFTP server lends it
// views of cached chunks (tftp.Lender), so a cached block is copied once,
// from the chunk into the packet; a chunk is never written after it is
// loaded, so a lent view stays right after eviction and after the image
// is replaced.
//
// On Linux image files and files of the root directory are read with
// preadv2(2) and RWF_NOWAIT first, as a raw system call, and with an
// ordinary pread only for what the page cache does not hold: a read that
// cannot block then stays out of the Go scheduler's system-call path,
// which would wake the runtime's monitor thread each time an event loop
// that had parked reads a block.
//
// # Reloading
//
// Reconfigure swaps the routing table atomically: requests already routed
// carry on with the image they opened, new requests see the new table.
// Images of boards that no longer exist are closed when their last transfer
// ends. A new CacheBytes applies at once.
package netboot
