// Package fatfs reads FAT12, FAT16 and FAT32 file systems through an
// io.ReaderAt and presents them as an io/fs.FS; NewRW also writes them, and
// Format makes new ones.
//
// Limits, first:
//
//   - New opens read-only; NewRW (over an io.ReaderAt that is also an
//     io.WriterAt) adds OpenFile, Create, WriteFile, Mkdir, MkdirAll,
//     Remove, RemoveAll, Rename, Chtimes, Sync and Close, in the style of
//     package os. Writes are serialised by one lock per FS; the advisory
//     lock on an image file is the caller's business. A writable FS keeps
//     the whole FAT in memory (4 bytes per cluster).
//   - Writes go straight through to the io.WriterAt in an order chosen so
//     that an interruption loses at most the file or directory entry being
//     changed: file data first, then the FAT (every copy), then the
//     directory entry with the new size; on removal the entry is cleared
//     before the clusters are freed; a directory's new cluster is zeroed
//     before it is linked; a rename clears the old entry before writing the
//     new one. What an interruption leaves is what fsck.fat repairs without
//     loss (lost clusters, a chain longer than its file), never clusters
//     shared by two files. From the first write until Sync or Close the
//     volume is marked dirty (FAT[1]'s clean-shutdown bit cleared, FAT16
//     and FAT32; FAT12 has no such bit); a volume that was dirty when
//     opened is left dirty. On FAT32, FSInfo's free count and next-free
//     hint are kept exact.
//   - A write that does not fit fails whole, with an error wrapping
//     syscall.ENOSPC ("no space left on device"), and the file keeps what
//     it had before that write (WriteFile and O_TRUNC truncate first, so
//     they leave an empty file). Files are at most 4 GiB - 1 bytes
//     (syscall.EFBIG), directories 65536 entries, the FAT12/16 root what
//     the boot sector says (full: ENOSPC).
//   - New names must be valid long file names: not " * / : < > ? \ | or
//     control characters, no trailing '.' or space, at most 255 UTF-16
//     units (else a *NameError, matching fs.ErrInvalid, naming the
//     character). A name that fits 8.3 with base and extension each in one
//     case is stored without long-name entries, with the NT lower-case
//     bits, as Windows does; any other gets VFAT entries and a unique 8.3
//     alias made as the specification says (basis name, then "~N"). Short
//     names are generated from ASCII only: other characters become '_'.
//   - Removing a directory that is not empty fails with syscall.ENOTEMPTY
//     (which matches fs.ErrExist). A file removed (or replaced by Rename)
//     while open keeps its clusters until its last File is closed or the FS
//     is. Files opened with FS.Open on a writable FS are snapshots of the
//     cluster map at Open; use OpenFile to read a file that is being
//     written. Directory modification times are not updated by changes to
//     their entries. Readers running concurrently with writes are safe; a
//     read of a file that is being changed at the same moment may fail
//     (fs.ErrNotExist or ErrCorrupt) or see either version.
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
