/* Logging: one line per message on stderr, journal-aware. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int log_journal;                     /* stderr is connected to the journal */
static enum log_level log_max = LOG_LVL_INFO;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning", [LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

void
log_init(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected. */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_journal = 0;
	if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		log_journal = 1;
}

void
log_set_level(enum log_level max)
{
	log_max = max;
}

/* A message cut at len bytes loses the character the cut fell in, never half of it. */
static void
log_cut(char *line, size_t len)
{
	size_t lead = len, need;
	unsigned char b;

	while (lead > 0 && ((unsigned char)line[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	b = (unsigned char)line[--lead];
	need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
	if (lead + need > len)
		line[lead] = '\0';
}

static void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;

	if (lvl > log_max)
		return;
	if (vsnprintf(line, sizeof(line), fmt, ap) >= (int)sizeof(line))
		log_cut(line, sizeof(line) - 1);
	/* One message, one line: a newline inside would forge a second log entry. */
	for (n = 0; line[n] != '\0'; n++)
		if (line[n] == '\n' || line[n] == '\r')
			line[n] = ' ';
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
	else
		fprintf(stderr, "ratd: %s: %s\n", log_names[lvl], line);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
