package tftp

// Lender is an optional interface of the content a Handler returns: content
// that holds its bytes in memory lends read-only views of them, and the
// server copies each block from the lent bytes straight into its packet,
// instead of first copying them into a read-ahead buffer of its own.
//
// LendAt returns the content's bytes from offset off on, at least one and
// at most n of them, with ok true. It may return fewer than n (up to the
// end of an internal chunk, say); the server asks again for the rest.
// Neither the lender nor the server may ever modify the bytes lent, and
// they must stay valid and unchanged for as long as the server holds the
// slice, including after the content is closed: a lender must not reuse,
// recycle or write the memory behind a slice it lent (Go's garbage
// collector keeps that memory alive while the slice is referenced), so
// content over a pool of buffers or a mutable buffer must not lend.
//
// LendAt may decline at any call by returning ok false: when the bytes are
// not in memory, at or past the end of the content, on any error. The
// server then reads the same bytes with ReadAt into its own buffer, so
// ReadAt remains the authority on the content's end and its errors. A
// lent slice of no bytes counts as declining, and bytes beyond n are not
// used.
//
// The server borrows only to fill its read-ahead: in octet mode, for
// blocks of 16 KiB or less, with n at most 32 KiB and never past the size
// the handler announced. netascii transfers and larger blocks are read with
// ReadAt only. Like ReadAt, LendAt must be safe to call from several
// goroutines when a handler hands one content to several transfers.
type Lender interface {
	LendAt(off int64, n int) (b []byte, ok bool)
}
