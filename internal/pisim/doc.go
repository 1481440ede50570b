// Package pisim emulates Raspberry Pis booting over TFTP, for tests of the
// server and for load tools: each Board makes the requests its model's
// bootloader and firmware make, in their order, with their options, and
// verifies every file it reads byte for byte (SHA-256) against a Manifest.
//
// Limits: it emulates request patterns and the behaviour that does not
// depend on timing, not the Pi's exact timing. Retransmissions, block
// handling and option negotiation are those of tftp.Client, not the Pi's
// firmware: a silent server is asked again every Board.Retransmit (1 s by
// default; a Pi 4 waits 2 s), each request from a new socket whose port
// the system picks (a Pi counts its source ports up by one), and a read's
// RRQ carries its options in tftp.Client's order (blksize before tsize;
// probes send them in the Pi's order, tsize first). The sequences follow
// the reference table of the project's pi-netboot notes, not a particular
// firmware release: the Pi 4's occasional probes of pieeprom.upd,
// pieeprom.sig, autoboot.txt, tryboot.txt and boot.img are not made, nor
// the Pi 5's signed-boot boot.img and boot.sig; config.txt is not parsed
// (the kernel, initramfs, dtb and overlay names come from Board fields);
// the prefix fallback is only emulated where a start*.elf is fetched (Pi 3
// and Pi 4, not Pi 5). No DHCP is done: the server address is given.
//
// # Boot sequences
//
// Each file is fetched as a Pi does: a tsize probe ended with ERROR 0
// "Early terminate", then (when the file exists) the identical request
// that reads it. The Pi 3 boot ROM reads bootcode.bin and bootsig.bin at
// the top, with no options and 512-byte blocks; later stages use
// "tsize 0" and the model's block size (Pi 3: 512, Pi 4: 1024, Pi 5:
// 1468). Files usually missing (recovery.elf, autoboot.txt, …) are asked
// for anyway and an ERROR 1 answer is fine when the manifest does not hold
// them. Some reads are made two or three times at once, a few
// milliseconds apart, each with its own socket, as Pis do.
//
// Pi 4 (prefix s): s/start4.elf (probe: does the prefix exist?),
// s/config.txt, s/recover4.elf, s/fixup4rc.dat, s/recovery.elf,
// s/fixup_rc.dat, s/start4.elf, s/fixup4.dat, s/config.txt (twice more,
// the second read three times at once), the dtb (read twice at once),
// s/overlays/overlay_map.dtb and the overlays, s/cmdline.txt, the kernel,
// the initramfs.
//
// Pi 3B+: bootcode.bin, bootsig.bin (ROM), s/start.elf (probe, then a
// read), s/autoboot.txt, s/config.txt, s/recovery.elf, s/start.elf (read
// again), s/fixup.dat, s/config.txt (three more times, the last read twice
// at once), s/dt-blob.bin, s/bootcfg.txt, the dtb (twice), the overlays,
// s/cmdline.txt (twice), the kernel, the initramfs.
//
// Pi 5: s/config.txt (then read twice at once), the dtb, the overlays,
// s/cmdline.txt, the kernel, the initramfs.
//
// # The prefix
//
// The prefix is the serial number as 8 lower-case hex digits, the MAC
// address with dashes, or a custom string (Board.Prefix). If neither
// start4.elf nor start.elf is found under it, the board asks for every
// later file without a prefix, as a Pi does, and Result.FellBack says so.
//
// # Verdicts
//
// A Manifest, keyed by name without the prefix, says which files exist
// and what they hold. A read with other bytes, a file of the manifest
// answered with ERROR 1, a file not in the manifest that the server has,
// a request not done within Board.FileTimeout (30 s, the Pi's
// TFTP_FILE_TIMEOUT), or any other ERROR is a *Failure whose Kind a load
// tool can count ("hash mismatch", "not found", "timeout", "error 0:
// server busy", …). Files makes deterministic boot directories to lay out
// on the server and to build the Manifest from.
package pisim
