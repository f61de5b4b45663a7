/* libFuzzer target: the control socket's request handling, end to end without a
 * running daemon. The module's .c is included to reach its statics (as chrony's tests
 * do); the input is sent as one client's byte stream over a socketpair, the client's
 * own libev callbacks read and answer it, and every reply line is checked. The core
 * behind it has no treaties, no alerts and a small in-memory journal. */
#include "daemon/control.c"

#include <ev.h>

#include "fuzz.h"

#define FUZZ_MAX_ROUNDS 200000

static struct ev_loop *fuzz_loop;
static struct conf fuzz_conf;
static struct core fuzz_core;
static struct metrics fuzz_metrics;
static struct control fuzz_ctl;

/* A few events, so that history has something to filter and page through. */
static void
fuzz_journal(struct journal *j)
{
	static const char *const types[] = { EV_NEW_PARTY, EV_NEW_SIGNATORY,
	    EV_SOURCE_FAILING, EV_THRESHOLD_REACHED };
	size_t i;

	j->fd = -1;
	j->backlog = json_array();
	j->v = calloc(4, sizeof(*j->v));
	for (i = 0; i < 4; i++) {
		j->v[i] = json_pack("{s:I, s:s, s:s, s:s, s:s, s:{}}", "id", (json_int_t)(i * 3 + 1),
		    "time", "2003-03-14T00:00:00Z", "type", types[i],
		    "treaty", i % 2 ? "IV-13" : "XXVII-7", "summary", "fuzz event", "data");
		if (j->v[i] == NULL || event_check(j->v[i]) < 0)
			fuzz_fail("cannot build the journal");
	}
	j->n = 4;
	j->last_id = 10;
}

/* What the daemon's reload does with a configuration file that cannot be read. */
static int
fuzz_reload(void *owner, char *err, size_t errlen)
{
	struct conf conf = { 0 };
	int rc = conf_load(fuzz_conf.path, &conf);

	snprintf(err, errlen, "%s (%zu problems in all); the running configuration is kept",
	    conf.nerrors ? conf.errors[0] : fuzz_conf.path, conf.nerrors);
	conf_free(&conf);
	return rc < 0 ? -1 : -2;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int saved, null;

	fuzz_setup();
	if ((fuzz_loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		fuzz_fail("ev_loop_new");
	/* reload reads this path: a missing file takes its error path. */
	fuzz_conf.path = "/nonexistent/ratd-fuzz.conf";
	fuzz_conf.state_dir = "/nonexistent";
	fuzz_core.loop = fuzz_loop;
	fuzz_core.conf = &fuzz_conf;
	fuzz_journal(&fuzz_core.journal);
	/* alerts_new saves its empty cursors to state_dir, which does not exist: its
	 * complaint about that is expected, so it is not shown. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
	fuzz_metrics.alerts = alerts_new(&fuzz_core, false);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (fuzz_metrics.alerts == NULL)
		fuzz_fail("alerts_new");
	fuzz_metrics.core = &fuzz_core;
	fuzz_ctl.core = &fuzz_core;
	fuzz_ctl.alerts = fuzz_metrics.alerts;
	fuzz_ctl.metrics = &fuzz_metrics;
	fuzz_ctl.reload = fuzz_reload;
	fuzz_ctl.listen_fd = -1;
	fuzz_ctl.fd = -1;
	control_setup(&fuzz_ctl);
	return 0;
}

/* One reply line: a JSON object with "ok", and a known error code when not ok. */
static void
fuzz_check_reply(const char *line, size_t len)
{
	static const char *const codes[] = { RATD_ERR_BAD_REQUEST, RATD_ERR_UNKNOWN_COMMAND,
	    RATD_ERR_UNKNOWN_TREATY, RATD_ERR_BAD_DATE, RATD_ERR_PERMISSION_DENIED,
	    RATD_ERR_BUSY, RATD_ERR_INTERNAL, NULL };
	json_t *r, *ok, *code;
	size_t i;

	if (len >= RATD_MAX_LINE)
		fuzz_fail("a reply line is longer than RATD_MAX_LINE");
	if ((r = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		fuzz_fail("a reply line is not JSON");
	ok = json_object_get(r, "ok");
	if (!json_is_boolean(ok))
		fuzz_fail("a reply has no boolean \"ok\"");
	if (json_is_true(ok) && !json_is_object(json_object_get(r, "result")) &&
	    !json_is_object(json_object_get(r, "event")))
		fuzz_fail("a successful reply has no result object");
	if (json_is_false(ok)) {
		code = json_object_get(json_object_get(r, "error"), "code");
		for (i = 0; codes[i] != NULL; i++)
			if (json_is_string(code) && strcmp(codes[i], json_string_value(code)) == 0)
				break;
		if (codes[i] == NULL)
			fuzz_fail("an error reply has no known code");
	}
	json_decref(r);
}

struct fuzz_replies {
	char *buf;
	size_t len, cap;
};

static void
fuzz_drain(int fd, struct fuzz_replies *rp)
{
	char *nl, *nb;
	ssize_t n;
	size_t used;

	for (;;) {
		if (rp->cap - rp->len < 65536) {
			rp->cap = rp->cap ? rp->cap * 2 : 131072;
			if ((nb = realloc(rp->buf, rp->cap)) == NULL)
				fuzz_fail("out of memory");
			rp->buf = nb;
		}
		if ((n = recv(fd, rp->buf + rp->len, rp->cap - rp->len, 0)) <= 0)
			break;
		rp->len += (size_t)n;
	}
	/* Check the complete lines, keep a partial one for later. */
	for (used = 0; (nl = memchr(rp->buf + used, '\n', rp->len - used)) != NULL;
	    used = (size_t)(nl - rp->buf) + 1)
		fuzz_check_reply(rp->buf + used, (size_t)(nl - rp->buf) - used);
	memmove(rp->buf, rp->buf + used, rp->len - used);
	rp->len -= used;
}

/* Feeds data as one client's stream, then half-closes; returns when the daemon side has
 * let the client go. */
static void
fuzz_session(const uint8_t *data, size_t size, bool admin)
{
	struct fuzz_replies rp = { 0 };
	size_t off = 0, round;
	bool shut = false;
	ssize_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("socketpair");
	control_add_client(&fuzz_ctl, sv[0]);
	if (fuzz_ctl.nclients != 1)
		fuzz_fail("control_add_client");
	if (!admin) {
		fuzz_ctl.clients->cred.uid = (uid_t)-1;
		fuzz_ctl.clients->cred.gid = (gid_t)-1;
		fuzz_ctl.clients->cred.pid = 0;
		fuzz_ctl.clients->privileged = false;
	}
	for (round = 0; fuzz_ctl.nclients > 0; round++) {
		if (round == FUZZ_MAX_ROUNDS)
			fuzz_fail("the client is never let go after its peer half-closed");
		if (off < size) {
			n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
		} else if (!shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		fuzz_drain(sv[1], &rp);
		ev_run(fuzz_loop, EVRUN_NOWAIT);
	}
	fuzz_drain(sv[1], &rp);
	if (rp.len != 0)
		fuzz_fail("the last reply line has no newline");
	free(rp.buf);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_loop == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	/* The peer is ratd's own user, so refresh and reload are allowed ... */
	fuzz_session(data, size, true);
	/* ... and once more as a stranger when the input may ask for them. */
	if (memmem(data, size, "re", 2) != NULL)
		fuzz_session(data, size, false);
	return 0;
}
