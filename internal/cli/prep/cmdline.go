package prep

import (
	"fmt"
	"strings"
)

// RewriteCmdline returns the kernel command line old pointed at an NBD root:
// "ip=dhcp nbdroot=HOST/NAME root=/dev/nbd0pN" followed by the parameters
// of old's first line other than ip=, nbdroot= and root=, in their order,
// separated by single spaces. What follows the first line (the Pi's
// firmware ignores it) is kept as it is, line end included, so that a
// file that ended in a newline still does. Applying it to its own result
// changes nothing.
//
// Limits: parameters are split on white space, so a quoted value holding
// several spaces in a row comes back with one.
func RewriteCmdline(old, host, name string, rootPart int) string {
	line, rest := old, ""
	if i := strings.IndexByte(old, '\n'); i >= 0 {
		line, rest = old[:i], old[i:]
		if strings.HasSuffix(line, "\r") {
			line, rest = line[:len(line)-1], "\r"+rest
		}
	}
	params := []string{
		"ip=dhcp",
		fmt.Sprintf("nbdroot=%s/%s", host, name),
		fmt.Sprintf("root=/dev/nbd0p%d", rootPart),
	}
	// The parameters dropped before adding ours.
	replaced := []string{"ip=", "nbdroot=", "root="}
outer:
	for _, p := range strings.Fields(line) {
		for _, r := range replaced {
			if strings.HasPrefix(p, r) {
				continue outer
			}
		}
		params = append(params, p)
	}
	return strings.Join(params, " ") + rest
}
