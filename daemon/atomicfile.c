/* Files replaced atomically and durably, and read without following what another user
 * could plant: the state files, the journal, the alert cursors, the metrics textfile and
 * the published files all go through here. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "date.h"

int
atomicfile_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
atomicfile_write(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen)
{
	return atomicfile_write_mode(dir, name, data, len, 0600, err, errlen);
}

/* 62 letters and digits: a name nobody can guess ahead of the write. */
static void
atomicfile_tmp_suffix(char out[ATOMICFILE_TMP_RANDOM + 1], int attempt)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[ATOMICFILE_TMP_RANDOM];
	struct timespec ts;
	uint64_t x;
	size_t i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* No entropy yet (early boot): O_EXCL still keeps the create safe. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid() << 16 ^
		    ((uint64_t)attempt | 1);
		for (i = 0; i < sizeof(r); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			r[i] = (unsigned char)(x >> 24);
		}
	}
	for (i = 0; i < ATOMICFILE_TMP_RANDOM; i++)
		out[i] = set[r[i] % (sizeof(set) - 1)];
	out[ATOMICFILE_TMP_RANDOM] = '\0';
}

/* Creates dir/.NAME.tmp-RANDOM as a new file: O_EXCL never opens what is there already,
 * a symbolic link included, so nothing planted at a guessable name is written through. */
static int
atomicfile_tmp_create(int dfd, const char *name, mode_t mode, char *tmp, size_t tmplen)
{
	char suffix[ATOMICFILE_TMP_RANDOM + 1];
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		atomicfile_tmp_suffix(suffix, tries);
		if ((size_t)snprintf(tmp, tmplen, ".%s" ATOMICFILE_TMP_TAG "%s", name, suffix) >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Writes, sets the mode on the descriptor created (never on a path) and syncs. */
static int
atomicfile_tmp_fill(int dfd, const char *tmp, int fd, const void *data, size_t len, mode_t mode,
    const char *dir, char *err, size_t errlen)
{
	int saved;

	/* The umask must not narrow a file meant for others to read. */
	if (fchmod(fd, mode) == 0 && atomicfile_write_all(fd, data, len) == 0 && fsync(fd) == 0) {
		if (close(fd) == 0)
			return 0;
		fd = -1;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	snprintf(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(saved));
	return -1;
}

/* A temporary file is created with a random name by O_CREAT|O_EXCL|O_NOFOLLOW in the
 * target directory, not by O_TMPFILE: O_TMPFILE needs filesystem support (not on every
 * NFS or older overlay) and linkat() of it cannot replace the old file, so a named
 * temporary and rename() would be needed anyway. rename() replaces a symbolic link at
 * the final name rather than following it. */
int
atomicfile_write_mode(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	char tmp[NAME_MAX + 1];
	int fd, dfd, saved;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((fd = atomicfile_tmp_create(dfd, name, mode, tmp, sizeof(tmp))) < 0) {
		saved = errno;
		close(dfd);
		snprintf(err, errlen, "cannot create a temporary for %s/%s: %s", dir, name,
		    strerror(saved));
		return -1;
	}
	if (atomicfile_tmp_fill(dfd, tmp, fd, data, len, mode, dir, err, errlen) < 0) {
		close(dfd);
		return -1;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		close(dfd);
		snprintf(err, errlen, "cannot replace %s/%s: %s", dir, name, strerror(saved));
		return -1;
	}
	/* The rename is durable only once the directory entry is on disk. */
	if (fsync(dfd) < 0) {
		saved = errno;
		close(dfd);
		snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(saved));
		return -1;
	}
	close(dfd);
	return 0;
}

/* Whether entry is a temporary of atomicfile_write_mode: ".NAME.tmp-RANDOM", or
 * ".NAME.tmp" as versions before random names left it; of name only, unless NULL. */
static bool
atomicfile_is_temp(const char *entry, const char *name)
{
	size_t n = strlen(entry), tag = strlen(ATOMICFILE_TMP_TAG), i;
	const char *end;

	if (entry[0] != '.')
		return false;
	if (n > 5 && strcmp(entry + n - 4, ".tmp") == 0)
		end = entry + n - 4;
	else if (n > tag + ATOMICFILE_TMP_RANDOM + 1 &&
	    strncmp(entry + n - ATOMICFILE_TMP_RANDOM - tag, ATOMICFILE_TMP_TAG, tag) == 0) {
		for (i = n - ATOMICFILE_TMP_RANDOM; i < n; i++)
			if (!isalnum((unsigned char)entry[i]))
				return false;
		end = entry + n - ATOMICFILE_TMP_RANDOM - tag;
	} else
		return false;
	if (name == NULL)
		return end > entry + 1;
	return (size_t)(end - entry - 1) == strlen(name) && strncmp(entry + 1, name,
	    strlen(name)) == 0;
}

int
atomicfile_clean_temps(const char *dir, const char *name)
{
	struct dirent *de;
	DIR *d;
	int dfd, removed = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	/* unlinkat() removes a link itself, never what it points to; a directory of
	 * that name fails and stays. */
	while ((de = readdir(d)) != NULL)
		if (atomicfile_is_temp(de->d_name, name) && unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	closedir(d);
	return removed;
}

int
atomicfile_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s belongs to uid %ld, not to ratd's user (uid %ld) or root: "
		    "its owner could plant links that ratd would write through; "
		    "chown it to ratd's user", dir, (long)st.st_uid, (long)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o): other users could plant links "
		    "that ratd would write through; run chmod go-w %s", dir,
		    (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

int
atomicfile_open(const char *path, int flags, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	int fd, saved;

	/* O_NONBLOCK: a FIFO planted there must not hang the open; cleared after. */
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(saved),
		    saved == ELOOP ? " (a symbolic link: ratd never follows one here; remove it)" :
		    "");
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		close(fd);
		snprintf(err, errlen, "%s is not a regular file; remove it", path);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int
atomicfile_read_flags(const char *path, int flags, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	/* O_NONBLOCK: a FIFO must not hang the open (regular files ignore the flag). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags)) < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file of at most %zu bytes", path, max);
		errno = EFBIG;
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		snprintf(err, errlen, "%s: short read: %s", path, strerror(saved));
		errno = EIO;
		return -1;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
atomicfile_read(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	return atomicfile_read_flags(path, O_NOFOLLOW, max, out, len, err, errlen);
}

int
atomicfile_read_linked(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	return atomicfile_read_flags(path, 0, max, out, len, err, errlen);
}

void
atomicfile_aside_name(const char *path, char *out, size_t len)
{
	char stamp[DATE_TIME_LEN];

	/* The pid keeps two copies made in the same second by a restart loop apart. */
	snprintf(out, len, "%s.corrupt-%s-%ld", path, date_format_time(time(NULL), stamp),
	    (long)getpid());
}
