// Package imgfs opens a FAT partition inside a disk image as a file system
// that the command-line tools (prep, sh) can read and change, and gives the
// host file system the same interface, so that the tools copy in every
// direction with one code path.
//
// Limits, first:
//
//   - A writable image is locked with an exclusive advisory lock
//     (flock(2) LOCK_EX|LOCK_NB) on the image file for as long as it is
//     open; a second writer fails at once with ErrLocked ("image.img is
//     being written by another process"). Readers take no lock (the daemon
//     never does), so a reader may see a half-done change of a concurrent
//     writer. The lock is advisory: programs that do not flock (mtools,
//     dd) are not kept out.
//   - One Image value per image file per process: flock locks belong to
//     open file descriptions, so opening the same image twice for writing
//     in one process fails with ErrLocked too. Open every partition of an
//     image through the one Image (Image.FS).
//   - Only FAT partitions can be opened as file systems (see fatfs); other
//     partitions are refused with an error naming the image and partition.
//     Writes go through fatfs.NewRW and reach the image as they are made;
//     Image.Close marks each written volume clean again. A volume is
//     opened with NewRW even on a read-only Image (its writer refuses), so
//     that Free works there too; NewRW reads the whole FAT into memory (4
//     bytes per cluster).
//   - Path syntax (ParsePath): IMAGE:N/PATH, IMAGE:/PATH and IMAGE:N; a
//     host path that contains a colon after the name of an existing file is
//     read as an image path. Prefix such a path with "./" and put the colon
//     after a directory name to reach the host file.
//   - Host paths are followed through symbolic links; FAT has no links, so
//     a link is copied as what it points at.
package imgfs
