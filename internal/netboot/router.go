package netboot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// Config is what a Router serves.
type Config struct {
	// Boards are the boards to route to, as config.Config holds them.
	Boards []config.Board
	// Root is a directory served to requests no board answers; "" serves
	// none. It is opened on each request, so it need not exist yet.
	Root string
	// CacheBytes is the budget of the block cache of boot partition files,
	// shared by all images (see the package doc): 0 means
	// DefaultCacheBytes, a negative value turns the cache off.
	CacheBytes int64
}

// Router is a tftp.Handler routing requests to boards; see the package doc.
// Create it with New; it is safe for concurrent use.
type Router struct {
	log   *slog.Logger
	table atomic.Pointer[table]
	cache *blockCache
	wrap  func(io.ReaderAt) io.ReaderAt // when set (by tests), what images are read through

	mu         sync.Mutex // serialises Reconfigure and Close; guards slots and cacheBytes
	slots      map[slotKey]*slot
	cacheBytes int64 // Config.CacheBytes of the last Reconfigure
}

// table is one immutable routing table.
type table struct {
	byPrefix map[string]*entry // lower-cased serial, MAC (dash form) or custom prefix
	byIP     []*entry          // boards limited to an ip, by name
	root     string
}

type entry struct {
	board config.Board
	slot  *slot
}

// New returns a Router serving c; logger receives its log lines (nil
// discards them).
func New(c Config, logger *slog.Logger) *Router {
	return newRouter(c, logger, nil)
}

// newRouter is New with every image read through wrap (nil: directly).
func newRouter(c Config, logger *slog.Logger, wrap func(io.ReaderAt) io.ReaderAt) *Router {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{log: logger, slots: make(map[slotKey]*slot), wrap: wrap,
		cache: newBlockCache(cacheBudget(c.CacheBytes))}
	r.Reconfigure(c)
	return r
}

// Reconfigure replaces the routing table with one for c, atomically:
// requests routed before it keep the image they opened, requests after it
// see c. Images no board of c uses are closed once their last transfer ends;
// images still used stay open. A new CacheBytes applies at once: a smaller
// budget evicts chunks down to it.
func (r *Router) Reconfigure(c Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconfigure(c)
}

func (r *Router) reconfigure(c Config) {
	r.cacheBytes = c.CacheBytes
	r.cache.setBudget(cacheBudget(c.CacheBytes))
	t := &table{byPrefix: make(map[string]*entry), root: c.Root}
	used := make(map[slotKey]*slot)
	for _, b := range c.Boards {
		k := slotKey{b.Image, b.Partition}
		s := r.slots[k]
		if s == nil {
			s = &slot{key: k, log: r.log, cache: r.cache, wrap: r.wrap}
		}
		used[k] = s
		e := &entry{board: b, slot: s}
		for _, p := range b.Prefixes() {
			t.byPrefix[strings.ToLower(p)] = e
		}
		if b.IP.IsValid() {
			t.byIP = append(t.byIP, e)
		}
	}
	r.table.Store(t)
	for k, s := range r.slots {
		if used[k] == nil {
			s.retire()
		}
	}
	r.slots = used
}

// Close closes every image once its transfers have ended. Requests after
// Close are answered as if no board were configured.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconfigure(Config{CacheBytes: r.cacheBytes})
	return nil
}

// Board returns the name of the board a request for filename from client
// would be routed to, or "" for none: for log lines.
func (r *Router) Board(filename string, client netip.Addr) string {
	name, err := cleanName(filename)
	if err != nil {
		return ""
	}
	t := r.table.Load()
	if first, _, ok := strings.Cut(name, "/"); ok {
		if e := t.byPrefix[strings.ToLower(first)]; e != nil {
			return e.board.Name
		}
	}
	if e := t.ipBoard(client); e != nil {
		return e.board.Name
	}
	return ""
}

func sameAddr(a, b netip.Addr) bool {
	return a.Unmap().WithZone("") == b.Unmap().WithZone("")
}

func (t *table) ipBoard(client netip.Addr) *entry {
	for _, e := range t.byIP {
		if sameAddr(e.board.IP, client) {
			return e
		}
	}
	return nil
}

func notFound(name string) error {
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ServeTFTP answers a read request; see the package doc for the routing.
func (r *Router) ServeTFTP(req *tftp.Request) (io.ReaderAt, int64, error) {
	client := req.RemoteAddr.Addr().Unmap()
	if r.log.Enabled(req.Context(), slog.LevelDebug) {
		r.log.Debug("request", "client", req.RemoteAddr, "file", req.Filename, "mode", req.Mode, "options", req.Options.Text())
	}
	name, err := cleanName(req.Filename)
	if err != nil {
		r.log.Warn("refused request", "client", req.RemoteAddr, "file", req.Filename, "reason", err)
		return nil, 0, err
	}
	t := r.table.Load()
	if first, rest, ok := strings.Cut(name, "/"); ok {
		if e := t.byPrefix[strings.ToLower(first)]; e != nil {
			if e.board.IP.IsValid() && !sameAddr(e.board.IP, client) {
				r.log.Warn("refused request from a client other than the board's ip",
					"client", req.RemoteAddr, "file", req.Filename, "board", e.board.Name, "board_ip", e.board.IP)
				return nil, 0, &tftp.Error{Code: tftp.ErrAccess, Message: fmt.Sprintf("board %s: access denied to this client", first)}
			}
			return r.serveBoard(e, rest, req)
		}
		if looksLikeBoard(first) {
			c, size, err := r.serveRoot(t, name, req)
			if errors.Is(err, fs.ErrNotExist) {
				r.log.Info("request for an unknown board", "client", req.RemoteAddr, "file", req.Filename, "prefix", first)
				return nil, 0, &tftp.Error{Code: tftp.ErrNotFound, Message: fmt.Sprintf("no board %s", first)}
			}
			return c, size, err
		}
	}
	if e := t.ipBoard(client); e != nil {
		c, size, err := r.serveBoard(e, name, req)
		if !errors.Is(err, fs.ErrNotExist) {
			return c, size, err
		}
	}
	return r.serveRoot(t, name, req)
}

// serveBoard opens name in the board's boot partition.
func (r *Router) serveBoard(e *entry, name string, req *tftp.Request) (io.ReaderAt, int64, error) {
	v, err := e.slot.acquire()
	if err != nil {
		msg := "boot image not available"
		code := tftp.ErrUndefined
		var ie *imageError
		if errors.As(err, &ie) {
			msg = ie.Client
			if ie.Perm {
				code = tftp.ErrAccess
			}
		}
		r.log.Error("cannot serve board", "board", e.board.Name, "image", e.slot.key.image,
			"partition", e.slot.key.partition, "client", req.RemoteAddr, "file", req.Filename, "err", err)
		return nil, 0, &tftp.Error{Code: code, Message: fmt.Sprintf("board %s: %s", e.board.Name, msg)}
	}
	f, err := v.fsys.Open(name)
	if err != nil {
		v.release()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, err
		}
		r.log.Error("reading boot partition", "board", e.board.Name, "image", e.slot.key.image,
			"partition", e.slot.key.partition, "file", name, "err", err)
		return nil, 0, &tftp.Error{Code: tftp.ErrUndefined, Message: fmt.Sprintf("board %s: boot partition unreadable", e.board.Name)}
	}
	ff, ok := f.(*fatfs.File)
	if !ok { // a directory
		cerr := f.Close()
		v.release()
		if cerr != nil {
			return nil, 0, cerr
		}
		return nil, 0, &tftp.Error{Code: tftp.ErrNotFound, Message: fmt.Sprintf("%q is a directory", req.Filename)}
	}
	return newContent(ff, v), ff.Size(), nil
}

// serveRoot opens name in the root directory, through an os.Root so that
// symbolic links cannot lead outside it.
func (r *Router) serveRoot(t *table, name string, req *tftp.Request) (io.ReaderAt, int64, error) {
	if t.root == "" {
		return nil, 0, notFound(req.Filename)
	}
	root, err := os.OpenRoot(t.root)
	if err != nil {
		r.log.Error("cannot open the root directory", "root", t.root, "err", err)
		return nil, 0, notFound(req.Filename)
	}
	f, err := root.Open(name)
	if cerr := root.Close(); cerr != nil {
		r.log.Warn("closing the root directory", "root", t.root, "err", cerr)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, notFound(req.Filename)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, 0, &tftp.Error{Code: tftp.ErrAccess, Message: "access violation"}
		}
		r.log.Warn("refused request", "client", req.RemoteAddr, "file", req.Filename, "root", t.root, "err", err)
		return nil, 0, &tftp.Error{Code: tftp.ErrAccess, Message: "access violation"}
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, errors.Join(err, f.Close())
	}
	if !st.Mode().IsRegular() {
		if err := f.Close(); err != nil {
			return nil, 0, err
		}
		return nil, 0, &tftp.Error{Code: tftp.ErrNotFound, Message: fmt.Sprintf("%q is not a regular file", req.Filename)}
	}
	return newFileReader(f), st.Size(), nil
}
