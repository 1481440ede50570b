package prep

import (
	"fmt"
	"strings"

	"github.com/nobodd-go/nobodd-go/config"
)

// TFTPDConf returns a [board.NAME] table of the daemon's configuration for
// the board with serial that boots from partition part of the image at
// imagePath (which should be absolute: the daemon takes a relative path
// relative to the configuration file).
func TFTPDConf(name string, serial config.Serial, imagePath string, part int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[board.%s]\n", tomlKey(name))
	fmt.Fprintf(&b, "serial = %s\n", tomlString(serial.String()))
	fmt.Fprintf(&b, "image = %s\n", tomlString(imagePath))
	fmt.Fprintf(&b, "partition = %d\n", part)
	return b.String()
}

// NBDConf returns an nbd-server export section (see nbd-server(5)) named
// name that exports the image at imagePath (absolute) read-write.
func NBDConf(name, imagePath string) string {
	return fmt.Sprintf("[%s]\nexportname = %s\n", name, imagePath)
}

// tomlKey returns name as a TOML key: bare when it can be, quoted otherwise.
func tomlKey(name string) string {
	if name != "" && strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return name
	}
	return tomlString(name)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// checkNBDName checks a name used in nbdroot= and as an nbd-server section.
func checkNBDName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if what == "--nbd-name" && strings.EqualFold(s, "generic") {
		return fmt.Errorf("%s %q: nbd-server reserves the section name [generic]", what, s)
	}
	if strings.ContainsAny(s, " \t\r\n/[]#;=\"") {
		return fmt.Errorf("%s %q: must not contain white space or any of / [ ] # ; = \"", what, s)
	}
	return nil
}
