// Package image reads raw disk images and block devices and their partition
// tables: MBR (with extended and logical partitions) and GPT.
//
// Limits, first:
//
//   - Logical sector sizes of 512 and 4096 bytes only. The size is detected,
//     never assumed; see "Sector size" below.
//   - MBR and GPT only. No BSD disklabels, no Apple partition maps, no nested
//     tables. A GPT is only recognised behind a protective or hybrid MBR
//     (an entry of type 0xEE in sector 0); the other entries of a hybrid MBR
//     are ignored.
//   - MBR entries of type 0 or size 0 are empty and are not partitions,
//     although Linux would still number an entry of type 0 with a non-zero
//     size.
//   - An extended partition chain may hold at most 1024 logical partitions;
//     a chain that loops, or that links outside its extended partition, is an
//     error. An EBR without the 0x55AA signature ends the chain (as in Linux)
//     with a warning.
//   - At most 16384 GPT entries of at most 4096 bytes each (at most 1 MiB of
//     partition array), and every entry size a multiple of 128.
//   - An image whose partitions reach past its end (a truncated image) is
//     refused with an error that names the partition; so is any table that
//     points outside the image.
//   - Writing (Partition.WriterAt, GrowPartition) needs an image opened
//     with OpenWritable or OpenFile(path, os.O_RDWR), or built with
//     NewReadWriter. The only change to the tables this package makes is
//     GrowPartition's (see its limits); the raw structures (MBR, MBREntry,
//     GPTHeader, GPTEntry) are exported with their encoders, which recompute
//     the CRCs, for a tool that needs more.
//   - Reads are positioned reads (ReadAt) on one kept file descriptor; there
//     is no mmap and no caching. An Image is safe for concurrent use: its
//     tables are read once, by Open, and change only through GrowPartition,
//     which must not run concurrently with other methods.
//
// # Numbering
//
// Partitions are numbered as Linux numbers them. MBR primary partitions keep
// their slot numbers 1 to 4 (a table with slots 1 and 3 used has partitions 1
// and 3). An extended partition (type 0x05, 0x0F or 0x85) is listed itself,
// like sfdisk and Linux do, and its logical partitions follow, numbered from
// 5 in chain order. A GPT partition's number is its 1-based index in the
// partition array; empty entries are skipped, the numbers of the others are
// kept.
//
// # Sector size
//
// A GPT header (the signature "EFI PART") at byte 512 means 512-byte
// sectors; at byte 4096, 4096-byte sectors. When the primary header is lost,
// the backup header in the last sector is tried for 512 then 4096 bytes.
//
// An MBR does not record its sector size. For each used primary partition
// in slot order, the start is read both as 512-byte and as 4096-byte sectors:
// if the 4096-byte reading finds a valid FAT boot sector whose bytes per
// sector field is 4096 (or an ext2/3/4 superblock), and the 512-byte reading
// finds neither, the image has 4096-byte sectors; if the 512-byte reading
// finds one, 512-byte sectors. When no partition decides, the sector size is
// 512.
//
// # Superfloppies
//
// A "superfloppy" is a FAT file system written to the whole image, with no
// partition table. Sector 0 is then a FAT boot sector, which also ends in
// 0x55AA. It is told apart from an MBR by a FAT boot sector check (a jump
// instruction 0xEB or 0xE9, and sane BIOS parameter block fields) together
// with the MBR reading of the same sector: if the four entries are all empty,
// or any of them makes no sense (a status byte other than 0x00 or 0x80, a
// start of 0, or an end past the image), the sector is a FAT boot sector. A
// sector that passes both checks is read as an MBR. A superfloppy is exposed
// as a single partition numbered 1 that covers the whole image, also
// reachable as Partition(0); its Type is MBR type 0x0C when its BPB has the
// FAT32 layout and 0x0E otherwise, so that Type.IsFAT reports true, and its
// sector size is the BPB's bytes per sector.
//
// # Boot and root partitions
//
// BootPartition and RootPartition find the two partitions a Raspberry Pi
// netboot needs; see their doc comments. The package knows nothing of FAT
// beyond the boot sector sanity check they use.
package image
