package netboot

import (
	"fmt"
	"strings"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// Name limits; see the package doc.
const (
	MaxNameLen    = 1024 // bytes of a whole requested file name
	MaxElementLen = 255  // bytes of one '/'-separated element
)

// cleanName checks a requested file name and returns it as an io/fs path
// (one leading '/' removed). A refused name is a *tftp.Error with code
// ErrAccess whose message says why.
func cleanName(name string) (string, error) {
	refuse := func(why string) (string, error) {
		return "", &tftp.Error{Code: tftp.ErrAccess, Message: "illegal file name: " + why}
	}
	if len(name) > MaxNameLen {
		return refuse(fmt.Sprintf("%d bytes long, limit %d", len(name), MaxNameLen))
	}
	n := strings.TrimPrefix(name, "/")
	switch {
	case n == "":
		return refuse("empty")
	case strings.IndexByte(n, 0) >= 0:
		return refuse("contains a NUL byte")
	case strings.IndexByte(n, '\\') >= 0:
		return refuse("contains a backslash")
	case strings.HasPrefix(n, "/"):
		return refuse("absolute path")
	}
	for elem := range strings.SplitSeq(n, "/") {
		switch {
		case elem == "":
			return refuse("empty path element")
		case elem == "." || elem == "..":
			return refuse(fmt.Sprintf("%q path element", elem))
		case len(elem) > MaxElementLen:
			return refuse(fmt.Sprintf("path element of %d bytes, limit %d", len(elem), MaxElementLen))
		}
	}
	return n, nil
}

// looksLikeBoard reports whether a first path element has the shape of a
// board prefix the Pi firmware sends: 8 hex digits (a serial number) or a
// MAC address in dash form.
func looksLikeBoard(elem string) bool {
	if len(elem) == 8 {
		_, err := config.ParseSerial(elem)
		return err == nil
	}
	if len(elem) == 17 && strings.Count(elem, "-") == 5 {
		_, err := config.ParseMAC(elem)
		return err == nil
	}
	return false
}
