package pisim

import "fmt"

// Model is a Raspberry Pi model, or boot stage, whose network boot is
// emulated.
type Model int

const (
	// Pi3BPlus is a Raspberry Pi 3 Model B+: its boot ROM fetches
	// bootcode.bin (and bootsig.bin) with no prefix and no options, then
	// bootcode.bin fetches the rest with "tsize 0" in 512-byte blocks.
	Pi3BPlus Model = iota + 1
	// Pi4 is a Raspberry Pi 4 Model B: EEPROM bootloader and start4.elf,
	// "tsize 0 blksize 1024".
	Pi4
	// Pi5 is a Raspberry Pi 5: the firmware is in the EEPROM, so no
	// start*.elf is fetched; "tsize 0 blksize 1468".
	Pi5
	// Pi3ROM is only the Pi 3 boot ROM stage: bootcode.bin and bootsig.bin,
	// no prefix, no options.
	Pi3ROM
)

// String returns the model's name, such as "pi4".
func (m Model) String() string {
	switch m {
	case Pi3BPlus:
		return "pi3b+"
	case Pi4:
		return "pi4"
	case Pi5:
		return "pi5"
	case Pi3ROM:
		return "pi3rom"
	}
	return fmt.Sprintf("model(%d)", int(m))
}

// ParseModel turns "pi3b+", "pi4", "pi5" or "pi3rom" (as String returns
// them) into a Model.
func ParseModel(s string) (Model, error) {
	for _, m := range []Model{Pi3BPlus, Pi4, Pi5, Pi3ROM} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("pisim: unknown model %q: want pi3b+, pi4, pi5 or pi3rom", s)
}

func (m Model) valid() bool { return m >= Pi3BPlus && m <= Pi3ROM }

// BlockSize returns the blksize the model's second stage asks for: 512
// (no blksize option) for the Pi 3, 1024 for the Pi 4, 1468 for the Pi 5.
// The Pi 3 boot ROM always uses 512-byte blocks without any option.
func (m Model) BlockSize() int {
	switch m {
	case Pi4:
		return 1024
	case Pi5:
		return 1468
	}
	return 512
}

// DefaultKernel returns the kernel file name a model's firmware asks for by
// default: kernel8.img (Pi 3, Pi 4) or kernel_2712.img (Pi 5).
func (m Model) DefaultKernel() string {
	if m == Pi5 {
		return "kernel_2712.img"
	}
	return "kernel8.img"
}

// DefaultDTB returns the model's device tree blob.
func (m Model) DefaultDTB() string {
	switch m {
	case Pi4:
		return "bcm2711-rpi-4-b.dtb"
	case Pi5:
		return "bcm2712-rpi-5-b.dtb"
	}
	return "bcm2710-rpi-3-b-plus.dtb"
}

// DefaultOverlays returns the overlay files (under overlays/, besides
// overlay_map.dtb, which is always asked for) a typical config.txt makes
// the model's firmware load.
func (m Model) DefaultOverlays() []string {
	switch m {
	case Pi4:
		return []string{"vc4-kms-v3d-pi4.dtbo", "disable-bt.dtbo"}
	case Pi5:
		return []string{"vc4-kms-v3d-pi5.dtbo", "dwc2.dtbo"}
	}
	return []string{"vc4-kms-v3d.dtbo", "disable-bt.dtbo"}
}

// DefaultInitramfs is the initramfs file name a Board asks for when
// Board.Initramfs is empty.
const DefaultInitramfs = "initrd.img"

// action is what one step of a boot does with a file.
type action int

const (
	// probe: a tsize probe ended with "Early terminate", nothing more.
	probe action = iota
	// load: one request that reads the file.
	load
	// probeLoad: a tsize probe and, when the file exists, the identical
	// request that reads it: the Pi's usual way of fetching a file.
	probeLoad
)

// step is one file of a model's boot sequence.
type step struct {
	name   string // under the prefix
	act    action
	rom    bool // Pi 3 boot ROM: no prefix, no options
	copies int  // concurrent identical read requests (0 means 1)
	// prefixCheck marks the start*.elf probe that decides whether the
	// prefix directory exists (see Board.Boot).
	prefixCheck bool
}

// plan returns the boot sequence of b's model with b's file names, after
// the reference table in docs (pi-netboot.md) and the captures it cites.
func (b *Board) plan() []step {
	kernel, initrd, dtb, overlays := b.names()
	var s []step
	add := func(name string, act action) { s = append(s, step{name: name, act: act}) }
	dup := func(name string, act action, copies int) {
		s = append(s, step{name: name, act: act, copies: copies})
	}
	rom := func() {
		s = append(s, step{name: "bootcode.bin", act: load, rom: true},
			step{name: "bootsig.bin", act: load, rom: true})
	}
	tail := func() {
		add("overlays/overlay_map.dtb", probeLoad)
		for _, o := range overlays {
			add("overlays/"+o, probeLoad)
		}
	}
	switch b.Model {
	case Pi3ROM:
		rom()
	case Pi3BPlus:
		rom()
		s = append(s, step{name: "start.elf", act: probe, prefixCheck: true})
		add("start.elf", load)
		add("autoboot.txt", probeLoad)
		add("config.txt", probeLoad)
		add("recovery.elf", probeLoad)
		add("start.elf", load)
		add("fixup.dat", probeLoad)
		add("config.txt", probeLoad)
		add("config.txt", load)
		dup("config.txt", load, 2)
		add("dt-blob.bin", probeLoad)
		add("bootcfg.txt", probeLoad)
		add(dtb, probeLoad)
		add(dtb, load)
		tail()
		add("cmdline.txt", probeLoad)
		add("cmdline.txt", load)
		add(kernel, probeLoad)
		add(initrd, probeLoad)
	case Pi4:
		s = append(s, step{name: "start4.elf", act: probe, prefixCheck: true})
		add("config.txt", probeLoad)
		add("recover4.elf", probeLoad)
		add("fixup4rc.dat", probeLoad)
		add("recovery.elf", probeLoad)
		add("fixup_rc.dat", probeLoad)
		add("start4.elf", probeLoad)
		add("fixup4.dat", probeLoad)
		add("config.txt", probeLoad)
		dup("config.txt", load, 3)
		dup(dtb, probeLoad, 2)
		tail()
		add("cmdline.txt", probeLoad)
		add(kernel, probeLoad)
		add(initrd, probeLoad)
	case Pi5:
		add("config.txt", probeLoad)
		dup("config.txt", load, 2)
		add(dtb, probeLoad)
		tail()
		add("cmdline.txt", probeLoad)
		add(kernel, probeLoad)
		add(initrd, probeLoad)
	}
	return s
}

// names returns b's kernel, initramfs, dtb and overlay names, defaults
// filled in.
func (b *Board) names() (kernel, initrd, dtb string, overlays []string) {
	kernel, initrd, dtb, overlays = b.Kernel, b.Initramfs, b.DTB, b.Overlays
	if kernel == "" {
		kernel = b.Model.DefaultKernel()
	}
	if initrd == "" {
		initrd = DefaultInitramfs
	}
	if dtb == "" {
		dtb = b.Model.DefaultDTB()
	}
	if overlays == nil {
		overlays = b.Model.DefaultOverlays()
	}
	return kernel, initrd, dtb, overlays
}

// prefixCandidates are the files whose presence under the prefix keeps it,
// in the order the model probes them.
func (m Model) prefixCandidates() []string {
	if m == Pi4 {
		return []string{"start4.elf", "start.elf"}
	}
	return []string{"start.elf", "start4.elf"}
}
