/* loadgen: closed-loop load on ratd's control socket for `make bench`.
 *
 *   loadgen -s SOCKET [-c CLIENTS] [-d SECONDS] [-m MAX_REQUESTS] [-r REQUEST]
 *
 * CLIENTS connections each keep exactly one request outstanding: send a line, wait for
 * the whole reply line, send the next. One thread drives them all with epoll, so on a
 * small machine the generator takes one core and leaves the other to the daemon instead
 * of scheduling CLIENTS threads against it. Latency is from the send to the reply's
 * newline. Stops after SECONDS or MAX_REQUESTS replies, whichever comes first, and prints
 * one line: clients=N requests=N errors=N seconds=S rps=R p50_us=.. p99_us=.. p999_us=..
 * max_us=.. Exit 0, or 1 when a connection failed or a reply was not {"ok":true,...}. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOADGEN_MAX_CLIENTS 1024
#define LOADGEN_MAX_REPLY (16 << 20)     /* ratd's own bound on queued reply bytes */
#define LOADGEN_DEFAULT_MAX 4000000      /* latency samples kept: 16 MB */
#define LOADGEN_MAX_SECONDS 600.0
#define LOADGEN_HANDSHAKE_MS 5000
#define LOADGEN_BUSY_TRIES 250           /* 20 ms apart: 5 s */

struct conn {
	int fd;
	char *buf;               /* the reply being read */
	size_t len, cap;
	uint64_t sent_ns;
	bool wants_out;          /* the request did not fit in the socket buffer */
	size_t req_off;
};

struct load {
	const char *request;     /* newline-terminated */
	size_t request_len;
	struct conn *conns;
	int nconns;
	int ep;
	uint32_t *lat;           /* nanoseconds, clamped to UINT32_MAX */
	size_t nlat, maxlat;
	uint64_t errors;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -s SOCKET [-c CLIENTS] [-d SECONDS] [-m MAX_REQUESTS] "
	    "[-r REQUEST]\n");
	exit(2);
}

static int
conn_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "loadgen: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* A Unix socket connect completes at once or fails: no EINPROGRESS to wait for. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "loadgen: connect %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
conn_watch(struct load *ld, struct conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	c->wants_out = out;
	return epoll_ctl(ld->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends (the rest of) the request; -1 when the daemon hung up. */
static int
conn_send(struct load *ld, struct conn *c)
{
	ssize_t n;

	if (c->req_off == 0)
		c->sent_ns = now_ns();
	while (c->req_off < ld->request_len) {
		n = send(c->fd, ld->request + c->req_off, ld->request_len - c->req_off,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return c->wants_out ? 0 : conn_watch(ld, c, true);
		if (n < 0)
			return -1;
		c->req_off += (size_t)n;
	}
	return c->wants_out ? conn_watch(ld, c, false) : 0;
}

static void
record(struct load *ld, uint64_t ns)
{
	if (ld->nlat < ld->maxlat)
		ld->lat[ld->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Reads what arrived; 1 when a whole reply line came, 0 for more to come, -1 on error. */
static int
conn_read(struct load *ld, struct conn *c)
{
	static const char ok[] = "{\"ok\":true";
	char *nl, *nb;
	ssize_t n;

	for (;;) {
		if (c->len == c->cap) {
			if (c->cap >= LOADGEN_MAX_REPLY)
				return -1;
			if ((nb = realloc(c->buf, c->cap * 2)) == NULL)
				return -1;
			c->buf = nb;
			c->cap *= 2;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
		if ((nl = memchr(c->buf + c->len - (size_t)n, '\n', (size_t)n)) == NULL)
			continue;
		/* One request outstanding per connection: nothing may follow the reply. */
		if (nl != c->buf + c->len - 1)
			return -1;
		record(ld, now_ns() - c->sent_ns);
		if (c->len < sizeof(ok) - 1 || memcmp(c->buf, ok, sizeof(ok) - 1) != 0)
			ld->errors++;
		c->len = 0;
		return 1;
	}
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

/* One request and its reply, outside the measurement: 0 when the daemon answered it,
 * 1 when it refused the connection as busy, -1 on anything else. */
static int
conn_handshake(struct load *ld, struct conn *c)
{
	static const char busy[] = "\"code\":\"busy\"";
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int rc = 0;

	c->req_off = 0;
	if (conn_send(ld, c) < 0 || c->wants_out)
		return -1;
	while (rc == 0) {
		if (poll(&pfd, 1, LOADGEN_HANDSHAKE_MS) <= 0)
			return -1;
		rc = conn_read(ld, c);
	}
	ld->nlat = 0;
	c->req_off = 0;
	if (ld->errors > 0) {
		ld->errors = 0;
		return memmem(c->buf, c->cap, busy, sizeof(busy) - 1) != NULL ? 1 : -1;
	}
	return rc == 1 ? 0 : -1;
}

/* Connects, retrying while the daemon has not yet seen the last run's clients go. */
static int
conn_setup(struct load *ld, struct conn *c, const char *path)
{
	struct timespec pause = { 0, 20 * 1000000 };
	int tries, rc;

	c->cap = 4096;
	if ((c->buf = calloc(1, c->cap)) == NULL)
		return -1;
	for (tries = 0; tries < LOADGEN_BUSY_TRIES; tries++) {
		if ((c->fd = conn_open(path)) < 0)
			return -1;
		if ((rc = conn_handshake(ld, c)) <= 0)
			return rc;
		close(c->fd);
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "loadgen: the daemon stayed busy\n");
	return -1;
}

static int
load_setup(struct load *ld, const char *path, int clients)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i;

	if ((ld->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if ((ld->conns = calloc((size_t)clients, sizeof(*ld->conns))) == NULL)
		return -1;
	for (i = 0; i < clients; i++) {
		struct conn *c = &ld->conns[i];

		if (conn_setup(ld, c, path) < 0)
			return -1;
		ld->nconns++;
		ev.data.ptr = c;
		if (epoll_ctl(ld->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return -1;
	}
	return 0;
}

/* Runs until the deadline or max replies; -1 when a connection broke. */
static int
load_run(struct load *ld, double seconds, uint64_t max, uint64_t *done, double *elapsed)
{
	struct epoll_event evs[64];
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t;
	int i, n, rc;

	*done = 0;
	for (i = 0; i < ld->nconns; i++)
		if (conn_send(ld, &ld->conns[i]) < 0)
			return -1;
	for (;;) {
		t = now_ns();
		if (t >= end || *done >= max)
			break;
		n = epoll_wait(ld->ep, evs, 64, (int)((end - t) / 1000000u) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if ((evs[i].events & EPOLLOUT) && conn_send(ld, c) < 0)
				return -1;
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			if ((rc = conn_read(ld, c)) < 0) {
				fprintf(stderr, "loadgen: the daemon closed a connection or sent "
				    "a malformed reply: %.200s\n", c->len ? c->buf : "");
				return -1;
			}
			if (rc == 1) {
				(*done)++;
				c->req_off = 0;
				if (conn_send(ld, c) < 0)
					return -1;
			}
		}
	}
	*elapsed = (double)(now_ns() - start) / 1e9;
	return 0;
}

int
main(int argc, char **argv)
{
	struct load ld = { .request = "{\"cmd\":\"status\"}\n" };
	const char *path = NULL;
	double seconds = 1.0, elapsed = 0;
	uint64_t max = LOADGEN_DEFAULT_MAX, done = 0;
	char *req = NULL;
	int ch, clients = 1, rc;

	while ((ch = getopt(argc, argv, "s:c:d:m:r:")) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'm': max = strtoull(optarg, NULL, 10); break;
		case 'r':
			if ((req = malloc(strlen(optarg) + 2)) == NULL)
				return 1;
			sprintf(req, "%s\n", optarg);
			ld.request = req;
			break;
		default: usage();
		}
	}
	if (path == NULL || clients < 1 || clients > LOADGEN_MAX_CLIENTS || !(seconds > 0) ||
	    seconds > LOADGEN_MAX_SECONDS || max == 0)
		usage();
	ld.request_len = strlen(ld.request);
	ld.maxlat = max < LOADGEN_DEFAULT_MAX ? max : LOADGEN_DEFAULT_MAX;
	if ((ld.lat = malloc(ld.maxlat * sizeof(*ld.lat))) == NULL)
		return 1;
	if (load_setup(&ld, path, clients) < 0) {
		fprintf(stderr, "loadgen: setup failed: %s\n", strerror(errno));
		return 1;
	}
	rc = load_run(&ld, seconds, max, &done, &elapsed);
	qsort(ld.lat, ld.nlat, sizeof(*ld.lat), u32cmp);
	printf("clients=%d requests=%llu errors=%llu seconds=%.3f rps=%.0f p50_us=%.1f "
	    "p99_us=%.1f p999_us=%.1f max_us=%.1f\n", clients, (unsigned long long)done,
	    (unsigned long long)ld.errors, elapsed, elapsed > 0 ? (double)done / elapsed : 0,
	    pct_us(ld.lat, ld.nlat, 0.50), pct_us(ld.lat, ld.nlat, 0.99),
	    pct_us(ld.lat, ld.nlat, 0.999), pct_us(ld.lat, ld.nlat, 1.0));
	return rc < 0 || ld.errors > 0 ? 1 : 0;
}
