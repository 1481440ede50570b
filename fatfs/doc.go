// Package fatfs reads FAT12, FAT16 and FAT32 file systems through an
// io.ReaderAt and presents them as an io/fs.FS.
//
// Limits, first:
//
//   - Read-only for now. The volume type that holds the geometry and the FAT
//     access is kept separate from the io/fs layer so that a writer over an
//     io.WriterAt can be added later without changing how reading works.
//   - Sector sizes 512, 1024, 2048 and 4096 bytes; one or two FATs; clusters
//     of 1 to 128 sectors (any power of two). The FAT type is decided by the
//     count of data clusters, as the Microsoft FAT specification says
//     (fewer than 4085: FAT12; fewer than 65525: FAT16; otherwise FAT32), and
//     a boot sector whose fields disagree with that type is rejected.
//   - The boot sector must start with an x86 jump (0xEB xx 0x90 or 0xE9)
//     and carry the 0x55 0xAA signature at offset 510, and the whole volume
//     it describes must lie within the size given to New. Only the first FAT
//     is read (or, on FAT32 with mirroring off, the active one); the copies
//     are not compared.
//   - Short (8.3) names are decoded as code page 850 (what mtools and
//     mkfs.fat use by default). A long name that is not valid UTF-16 or
//     contains control characters or '/' is ignored and the 8.3 name used;
//     an entry with neither a usable long nor 8.3 name cannot be named in an
//     io/fs.FS and is left out of listings. An LFN run whose checksum or
//     sequence is wrong is ignored too, and the 8.3 name used instead, with
//     the NT lower-case bits (0x08 base, 0x10 extension) applied.
//   - Lookups fold case (strings.EqualFold, on long and short names), as a
//     Raspberry Pi's firmware expects. When a corrupt directory holds two
//     names that fold to the same string, the first in directory order wins.
//   - Directories are at most 65536 entries (2 MiB), as the specification
//     says; longer directory chains are reported as corrupt.
//   - Permissions are not stored in FAT: directories report
//     fs.ModeDir|0555 and files 0444 whatever their attributes. The
//     attributes, the short name, the first cluster and the creation and
//     access times are in *EntryInfo, returned by fs.FileInfo.Sys.
//   - Times are the modification date and time of the directory entry
//     (two-second resolution) in Options.Location (UTC by default). The root
//     directory has no entry and reports the zero time.
//
// A corrupt image never makes the package hang or panic: cluster chains that
// loop, leave the volume, reach free or reserved clusters, or are shorter than
// the file's size give a *CorruptError naming the file and the cluster, e.g.
// "fatfs: kernel8.img: cluster chain loops at cluster 1234". Chains longer
// than a file needs are allowed and the excess is ignored. Reads never return
// bytes beyond a file's size.
//
// Speed: opening a file walks its cluster chain once and maps it to extents
// (runs of contiguous clusters), cached on the FS by first cluster and size.
// A positioned read then costs one read of the underlying io.ReaderAt per
// extent it touches. FAT12 and FAT16 tables are read whole on first use;
// FAT32 tables in 64 KiB chunks. Parsed directories are cached too. An *FS is
// safe for concurrent use by any number of goroutines; an open file's Read
// and Seek share an offset and need the caller's synchronisation, its ReadAt
// does not.
package fatfs
