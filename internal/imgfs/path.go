package imgfs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Path is a parsed command-line path: a file on the host, or a file inside
// a partition of an image.
type Path struct {
	Arg   string // the argument as given, for messages
	Image string // the image file; "" for a host path
	// Part is the partition number when HasPart; otherwise the image's
	// first FAT partition (image.BootPartition) is meant. For a
	// superfloppy, partitions 0 and 1 are the whole image.
	Part    int
	HasPart bool
	// Name is the file's name: for an image path an io/fs name inside the
	// partition ("." for its root directory); for a host path the host path
	// as given.
	Name string
	// Slash reports whether the argument ended in "/" (a directory is
	// meant).
	Slash bool
}

// InImage reports whether p is inside an image.
func (p Path) InImage() bool { return p.Image != "" }

// String returns the argument as given.
func (p Path) String() string { return p.Arg }

// Join returns the path of elem inside the directory p, with Arg joined the
// same way, for messages about files found while walking p.
func (p Path) Join(elem string) Path {
	q := p
	q.Slash = false
	if p.InImage() {
		q.Name = path.Join(p.Name, elem)
	} else {
		q.Name = filepath.Join(p.Name, elem)
	}
	if strings.HasSuffix(p.Arg, "/") {
		q.Arg = p.Arg + elem
	} else {
		q.Arg = p.Arg + "/" + elem
	}
	return q
}

// SyntaxError is the error for an argument that names an image but whose
// partition part is not a number.
type SyntaxError struct {
	Arg string
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid image path '%s': %s; want IMAGE:N/PATH or IMAGE:/PATH", e.Arg, e.Msg)
}

// Is makes a SyntaxError match fs.ErrInvalid.
func (e *SyntaxError) Is(target error) bool { return target == fs.ErrInvalid }

// IsFile reports whether name is an existing file that is not a directory:
// what ParsePath takes for an image.
func IsFile(name string) bool {
	st, err := os.Stat(name)
	return err == nil && !st.IsDir()
}

// ParsePath parses a command-line path. The text before a colon is an image
// when isImage says so (IsFile when nil; the first such colon from the left
// wins); what follows the colon must then be empty, /PATH, N or N/PATH, or
// the error is a *SyntaxError. When no prefix is an existing image but the
// text after the first colon has that form (N, N/PATH or /PATH), the path
// still names an image, one that is missing, so that opening it reports the
// image. Anything else is a host path.
func ParsePath(arg string, isImage func(string) bool) (Path, error) {
	if isImage == nil {
		isImage = IsFile
	}
	for i := 0; i < len(arg); i++ {
		if arg[i] != ':' || i == 0 {
			continue
		}
		if isImage(arg[:i]) {
			return imagePath(arg, arg[:i], arg[i+1:])
		}
	}
	if i := strings.IndexByte(arg, ':'); i > 0 {
		rest := arg[i+1:]
		num, _, _ := strings.Cut(rest, "/")
		if strings.HasPrefix(rest, "/") || (num != "" && strings.Trim(num, "0123456789") == "") {
			return imagePath(arg, arg[:i], rest)
		}
	}
	return Path{Arg: arg, Name: arg, Slash: strings.HasSuffix(arg, "/") && arg != "/"}, nil
}

func imagePath(arg, img, rest string) (Path, error) {
	p := Path{Arg: arg, Image: img}
	num, name, _ := strings.Cut(rest, "/")
	if num != "" {
		if strings.Trim(num, "0123456789") != "" {
			return Path{}, &SyntaxError{Arg: arg, Msg: fmt.Sprintf("partition %q is not a number", num)}
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 1<<20 {
			return Path{}, &SyntaxError{Arg: arg, Msg: fmt.Sprintf("partition %s is out of range", num)}
		}
		p.Part, p.HasPart = n, true
	}
	p.Slash = strings.HasSuffix(rest, "/")
	p.Name = Clean(name)
	return p, nil
}

// Clean turns a slash-separated path inside a partition into an io/fs name:
// no leading or trailing slash, no "." or ".." elements ("." for the root).
func Clean(name string) string {
	c := path.Clean("/" + name)
	if c == "/" {
		return "."
	}
	return c[1:]
}
