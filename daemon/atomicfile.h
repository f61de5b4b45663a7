/* Files replaced atomically and durably (a fresh temporary, fsync, rename, fsync of the
 * directory), and read or opened without following a link another user could plant:
 * the state files, the journal, the alert cursors, the metrics textfile and the
 * published files all go through here. */
#ifndef RATD_ATOMICFILE_H
#define RATD_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Temporaries of atomicfile_write are ".NAME" ATOMICFILE_TMP_TAG and ATOMICFILE_TMP_RANDOM
 * letters or digits, e.g. ".IV-13.json.tmp-h3Kq9ZxA". */
#define ATOMICFILE_TMP_TAG ".tmp-"
#define ATOMICFILE_TMP_RANDOM 8

/* Writes all len bytes to fd, retrying after EINTR and short writes; 0 or -1. */
int atomicfile_write_all(int fd, const char *p, size_t len);
/* Writes data to dir/name: a new temporary of a random name beside it (created with
 * O_EXCL|O_NOFOLLOW: nothing planted there is written through or chmod-ed), fsync,
 * rename over name (a symbolic link there is replaced, not followed), fsync dir.
 * 0, or -1 with err set. */
int atomicfile_write(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen);
/* The same with the file's permissions (atomicfile_write: 0600). */
int atomicfile_write_mode(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen);
/* Reads a whole file of at most max bytes into a NUL-terminated buffer; a symbolic link
 * at path is refused (ELOOP), a FIFO or other non-regular file too. 0, or -1 with err
 * set and errno kept (ENOENT when absent). */
int atomicfile_read(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen);
/* The same, following a symbolic link at path: for files the administrator installs
 * (seeds), never for what ratd writes itself. */
int atomicfile_read_linked(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen);
/* Opens path with flags (O_CREAT allowed, with mode) adding O_NOFOLLOW and O_CLOEXEC,
 * and checks it is a regular file (a FIFO there does not block the open). An fd, or -1
 * with err set and errno kept (ELOOP: a symbolic link). */
int atomicfile_open(const char *path, int flags, mode_t mode, char *err, size_t errlen);
/* Refuses a directory in which another user could plant links for ratd to write
 * through: owned by neither ratd's effective uid nor root, or writable by its group or
 * others (the sticky bit does not help: names ratd has not created yet are free to
 * take). A symbolic link to the directory is followed: the path is the administrator's
 * (systemd's DynamicUser= makes /var/lib/NAME one). 0, or -1 with err saying what to
 * do. */
int atomicfile_check_dir(const char *dir, char *err, size_t errlen);
/* Removes the temporaries an interrupted atomicfile_write left in dir: those for
 * name only, or (name NULL) every ratd temporary, including the fixed ".NAME.tmp" of
 * older versions. Links are removed, never followed. Call only while holding the
 * directory's lock. Returns how many were removed. */
int atomicfile_clean_temps(const char *dir, const char *name);
/* The name a damaged file is kept under: PATH.corrupt-TIME-PID. */
void atomicfile_aside_name(const char *path, char *out, size_t len);

#endif
