package tftp

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

// Request is a read or write request as the server received it.
type Request struct {
	Op         Opcode         // OpRRQ or OpWRQ
	Filename   string         // as the client sent it
	Mode       string         // ModeOctet or ModeNetASCII
	Options    Options        // as the client sent them
	RemoteAddr netip.AddrPort // the client, unmapped
	LocalAddr  netip.AddrPort // the address the request arrived on, unmapped

	ctx context.Context
}

// Context returns the request's context, cancelled when the transfer ends or
// the server stops. It is never nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// WithContext returns a shallow copy of r with its context changed to ctx.
func (r *Request) WithContext(ctx context.Context) *Request {
	r2 := *r
	r2.ctx = ctx
	return &r2
}

// Handler answers read requests.
type Handler interface {
	// ServeTFTP returns the content for a read request: readable at any
	// offset, with its size, or size < 0 when unknown (then it is read until
	// io.EOF and tsize is not offered). If the ReaderAt is also an io.Closer
	// it is closed when the transfer ends. fs.ErrNotExist → ERROR 1,
	// fs.ErrPermission → ERROR 2, *Error → its code and message, anything
	// else → ERROR 0 with a generic message (the detail is logged).
	//
	// The server reads each block exactly once, in increasing order, so a
	// ReaderAt that only supports sequential offsets works too. Content
	// that also implements Lender lends its bytes instead of copying them.
	ServeTFTP(r *Request) (content io.ReaderAt, size int64, err error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request) (io.ReaderAt, int64, error)

// ServeTFTP calls f(r).
func (f HandlerFunc) ServeTFTP(r *Request) (io.ReaderAt, int64, error) { return f(r) }

// WriteHandler answers write requests.
type WriteHandler interface {
	// ReceiveTFTP returns where an upload goes. Errors map to ERROR codes
	// as for Handler; fs.ErrExist → ERROR 6.
	ReceiveTFTP(r *Request) (Upload, error)
}

// WriteHandlerFunc adapts a function to WriteHandler.
type WriteHandlerFunc func(r *Request) (Upload, error)

// ReceiveTFTP calls f(r).
func (f WriteHandlerFunc) ReceiveTFTP(r *Request) (Upload, error) { return f(r) }

// Upload receives the blocks of a write request.
type Upload interface {
	io.Writer      // blocks in order
	Commit() error // after the last block: make it visible
	Abort() error  // on any failure: leave nothing behind
}

// ServeMux routes requests by filename prefix; the longest matching prefix
// wins. One leading '/' is ignored on both filenames and prefixes. The
// filename is passed on unchanged (see StripPrefix). A request no route
// matches gets fs.ErrNotExist (ERROR 1). The zero value is an empty mux
// ready to use.
type ServeMux struct {
	mu     sync.RWMutex
	reads  []route[Handler]
	writes []route[WriteHandler]
}

type route[H any] struct {
	prefix string
	h      H
}

// NewServeMux returns an empty ServeMux.
func NewServeMux() *ServeMux { return new(ServeMux) }

func addRoute[H any](rs []route[H], prefix string, h H) []route[H] {
	prefix = strings.TrimPrefix(prefix, "/")
	for i := range rs {
		if rs[i].prefix == prefix {
			rs[i].h = h
			return rs
		}
	}
	rs = append(rs, route[H]{prefix, h})
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
	return rs
}

func match[H any](rs []route[H], name string) (H, bool) {
	name = strings.TrimPrefix(name, "/")
	for _, r := range rs {
		if strings.HasPrefix(name, r.prefix) {
			return r.h, true
		}
	}
	var zero H
	return zero, false
}

// Handle routes read requests whose filename starts with prefix to h,
// replacing an earlier handler for the same prefix. The prefix "" matches
// everything.
func (m *ServeMux) Handle(prefix string, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = addRoute(m.reads, prefix, h)
}

// HandleWrite routes write requests whose filename starts with prefix to h.
func (m *ServeMux) HandleWrite(prefix string, h WriteHandler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = addRoute(m.writes, prefix, h)
}

// ServeTFTP passes r to the handler with the longest matching prefix.
func (m *ServeMux) ServeTFTP(r *Request) (io.ReaderAt, int64, error) {
	m.mu.RLock()
	h, ok := match(m.reads, r.Filename)
	m.mu.RUnlock()
	if !ok {
		return nil, 0, &fs.PathError{Op: "open", Path: r.Filename, Err: fs.ErrNotExist}
	}
	return h.ServeTFTP(r)
}

// ReceiveTFTP passes r to the write handler with the longest matching prefix.
func (m *ServeMux) ReceiveTFTP(r *Request) (Upload, error) {
	m.mu.RLock()
	h, ok := match(m.writes, r.Filename)
	m.mu.RUnlock()
	if !ok {
		return nil, &Error{Code: ErrAccess, Message: "writes not allowed here"}
	}
	return h.ReceiveTFTP(r)
}

// Chain returns a Handler that tries handlers in order and returns the first
// answer that is not fs.ErrNotExist (a *Error with code ErrNotFound counts as
// fs.ErrNotExist). If all say not found, the last error is returned.
func Chain(handlers ...Handler) Handler {
	hs := append([]Handler(nil), handlers...)
	return HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		err := error(&fs.PathError{Op: "open", Path: r.Filename, Err: fs.ErrNotExist})
		for _, h := range hs {
			var content io.ReaderAt
			var size int64
			content, size, err = h.ServeTFTP(r)
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				return content, size, err
			}
		}
		return nil, 0, err
	})
}

// StripPrefix returns a Handler that removes prefix (after one leading '/'
// of the filename, if any) from the filename and passes the request to h.
// Filenames without the prefix get fs.ErrNotExist.
func StripPrefix(prefix string, h Handler) Handler {
	prefix = strings.TrimPrefix(prefix, "/")
	return HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		name := strings.TrimPrefix(r.Filename, "/")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return nil, 0, &fs.PathError{Op: "open", Path: r.Filename, Err: fs.ErrNotExist}
		}
		r2 := *r
		r2.Filename = rest
		return h.ServeTFTP(&r2)
	})
}
