/* ratd.conf: the INI parser and the validated configuration (man/ratd.conf.5). */
#ifndef RATD_CONF_H
#define RATD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"
#include "rule.h"
#include "untc.h"
#include "zone.h"

#ifndef RATD_SYSCONFDIR
#define RATD_SYSCONFDIR "/etc"
#endif
#ifndef RATD_SEED_DIR
#define RATD_SEED_DIR "/usr/local/share/ratd"
#endif
#define RATD_DEFAULT_CONF RATD_SYSCONFDIR "/ratd/ratd.conf"
#define RATD_DEFAULT_STATE_DIR "/var/lib/ratd"

/* Bounds on what a configuration may ask for. */
#define CONF_MAX_LINE 4096
#define CONF_MAX_TREATIES 2000      /* the whole UN Treaty Collection (about 560) and room */
#define CONF_MAX_ALERTS 64
#define CONF_MAX_ID RATD_MAX_ID
#define CONF_MAX_DEPTH 8         /* include nesting below the main file */
#define CONF_MAX_FILES 2048      /* files read in all, the main one included: a file per treaty */

struct conf_treaty {
	char *id;                /* [A-Za-z0-9._-]+, also the state file's name */
	char *title;
	char *url;
	enum untc_format format;
	struct rule rule;
	double interval;         /* seconds; the [ratd] interval when not set */
	int approaching;         /* alert when remaining <= this; 0 = off */
	const char *file;        /* the file holding the section (one of conf->files) */
	int line;                /* where the section starts in it, for messages */
};

enum alert_kind { ALERT_EXEC = 1, ALERT_WEBHOOK, ALERT_MAILTO };

struct conf_alert {
	char *name;
	enum alert_kind kind;
	char *target;            /* exec program, webhook URL */
	char **mailto;           /* recipients when kind == ALERT_MAILTO */
	size_t nmailto;
	char *smtp_url;
	char *mail_from;
	char **events;           /* NULL = every event type */
	size_t nevents;
	char **treaties;         /* NULL = every treaty */
	size_t ntreaties;
	double timeout;          /* seconds */
	const char *file;        /* the file holding the section (one of conf->files) */
	int line;
};

struct conf {
	char *path;
	char **files;            /* every file read: path first, then each include */
	size_t nfiles;
	char *socket;
	mode_t socket_mode;
	char *socket_group;      /* NULL when not set */
	char *admin_group;       /* NULL when not set */
	char *state_dir;
	char *seed_dir;
	double interval;         /* seconds */
	double jitter;
	double timeout;
	size_t max_page_size;    /* bytes */
	char *user_agent;
	int failures_before_alert;
	int host_concurrency;    /* page transfers at once to one host */
	double host_spacing;     /* seconds between two request starts to one host */
	char *metrics_textfile;  /* node-exporter textfile to keep current, NULL when not set */
	char **redirect_hosts;   /* hosts a page's redirect may lead to besides its URL's own */
	size_t nredirect_hosts;
	struct zone day_zone;    /* where a day begins for entry into force and "today"; UTC */
	mode_t metrics_textfile_mode;
	char *publish_dir;       /* [publish] dir, NULL without [publish] */
	char *publish_base_url;  /* [publish] base_url, ending with '/' */
	struct conf_treaty *treaties;
	size_t ntreaties;
	struct conf_alert *alerts;
	size_t nalerts;

	/* Every problem found, each "FILE:LINE: message" (or "FILE: message"), FILE being
	 * the included file where the problem is. */
	char **errors;
	size_t nerrors;
};

/* Reads and validates path, and the files its "include = PATTERN" lines name, into a
 * fresh conf (free with conf_free, also on failure).
 * Returns 0 when valid, -1 when conf->errors lists problems. */
int conf_load(const char *path, struct conf *conf);
void conf_free(struct conf *conf);
/* The treaty of that id, or NULL. */
const struct conf_treaty *conf_treaty_find(const struct conf *conf, const char *id);
/* Treaty ids and alert names become file names: true for [A-Za-z0-9._-]{1,CONF_MAX_ID}
 * not starting with a dot. */
bool conf_valid_id(const char *s);

/* "90s", "15m", "6h", "2d" or bare seconds; 0 or -1. */
int conf_parse_duration(const char *s, double *secs);
/* "512K", "16M", "1G" or bare bytes; 0 or -1. */
int conf_parse_size(const char *s, size_t *bytes);

#endif
