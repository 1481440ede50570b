// Package config loads the configuration of the nobodd-go daemon from TOML
// files and command-line flags, checks it, and compares two configurations
// for a reload.
//
// # Limits
//
//   - Loading reads configuration files only. Images, block devices and the
//     root directory are opened by the daemon when requests arrive, so they
//     need not exist when the configuration is loaded; a missing image shows
//     up as TFTP errors (and log lines), not as a configuration error.
//   - Boards are matched by serial number, MAC or custom prefix; one board
//     per [board.NAME] table. The array form [[board]] is refused.
//   - An included file may not set includedir: inclusion is one level deep.
//   - Line numbers in errors come from the TOML parser for syntax errors and
//     from a small key locator for everything else; a problem found only
//     after merging (a board without an image) points at the line where the
//     board is first defined.
//   - Port service names are resolved when the configuration is loaded.
//
// # Files
//
// Without --config the daemon reads, in order, and skipping any that do not
// exist:
//
//	/etc/nobodd-go/nobodd-go.toml
//	/usr/local/etc/nobodd-go/nobodd-go.toml
//	$XDG_CONFIG_HOME/nobodd-go/nobodd-go.toml   ($HOME/.config when unset)
//
// then the *.toml files of the include directory (tftp.includedir), in
// sorted order, skipping hidden files and subdirectories. One or more
// --config FILE flags replace the three default files; a --config file that
// does not exist is an error. Later files win key by key, and boards of the
// same NAME merge key by key, so a conf.d snippet can change one key of a
// board defined elsewhere. Relative paths (root, includedir, image) are taken
// relative to the directory of the file that names them.
//
// Command-line flags win over every file (see Overlay); they are applied
// again on every reload.
//
// # Keys and defaults
//
// All keys are optional; this table is the one place the defaults are listed
// (see also the Default* constants and Default).
//
//	[tftp]
//	listen          = "::"       IP address to bind; "::" is every IPv4 and IPv6 address.
//	                             "systemd": socket activation; "stdin": inetd-style fd 0.
//	port            = 69         1-65535, or a UDP service name ("tftp" works without /etc/services).
//	root            = ""         directory served to requests no board matches; "" = none.
//	timeout         = "1s"       retransmit timeout ceiling.
//	min-timeout     = "100ms"    adaptive retransmit timer floor; <= timeout.
//	retries         = 5          1-1000.
//	max-block-size  = 65464      8-65464; larger blksize requests are clamped.
//	max-window-size = 64         1-65535.
//	rollover        = 0          block after 65535: 0, 1 or "off" ("0" and "1" also work).
//	max-transfers   = 0          concurrent transfers; 0 = unlimited.
//	single-port     = false      all transfers through the listening socket.
//	port-range      = ""         transfer socket ports, "MIN-MAX" or [MIN, MAX]; "" = any.
//	includedir      = ""         directory of *.toml snippets; "" = none.
//	writable        = false      accept create-only uploads into root.
//	shutdown-timeout = "30s"     how long transfers may finish after SIGTERM.
//	cache-size      = "16MiB"    memory for boot-file chunks read from images; 0 = off.
//	batch-scheduling = true      threads under SCHED_BATCH (Linux): a woken thread does
//	                             not preempt the running task; false leaves the policy as started.
//
//	[log]
//	format          = "text"     "text" or "json".
//	verbose         = false      log at debug level.
//
//	[board.NAME]                 NAME: any TOML key, e.g. pi4-lab.
//	serial          = (none)     "1234abcd", "01234ABC", "100000001234abcd", ...
//	mac             = (none)     "dc:a6:32:01:36:c2": the Pi's TFTP_PREFIX=2 form.
//	prefix          = (none)     the Pi's TFTP_PREFIX_STR (TFTP_PREFIX=1), 1-32 chars.
//	image           = (required) path of the disk image or block device.
//	partition       = 1          boot partition number; 0 = image without partition table.
//	ip              = (any)      only answer this client address (IPv4 or IPv6).
//
// Durations are TOML strings in Go syntax ("1s", "250ms", "1m30s") or numbers
// of seconds (2, 0.25). A board needs an image and at least one of serial,
// mac and prefix. Serial numbers must be strings, in quotes: an unquoted
// 12345678 is a decimal TOML integer, not hex. Each serial, MAC and prefix
// may belong to one board only; they are compared without regard to case.
// ip, mac, prefix, root, includedir and port-range may be set to "" in a
// later file to remove an earlier value.
//
// # Errors
//
// Load reports every problem it finds, not just the first: each is an *Error
// naming the file, the line, the key and what is accepted, for example
//
//	/etc/nobodd-go/conf.d/pi4.toml:3: board "pi4": serial "xyz": not hex; want 8 hex digits (or 16 with prefix 10000000)
//
// joined with errors.Join in reading order and by line. Unknown keys are
// errors, so a misspelt key never silently does nothing.
package config
