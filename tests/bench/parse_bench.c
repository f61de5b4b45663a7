/* parse_bench: what ratd's page parser costs over libxml2 merely building the tree.
 *
 *   parse_bench [-n ITERATIONS] [-r RUNS] FILE...
 *
 * For each file, RUNS times: ITERATIONS of untc_parse with format auto (bytes -> snapshot,
 * freed; what the default `format = auto` costs), ITERATIONS of it with the format given
 * (`format = html|xml`), then ITERATIONS of the floor: htmlReadMemory or xmlReadMemory of
 * the same bytes into a tree (freed), with no encoding given and no options beyond
 * silence and no network. They alternate so drift in the machine hits all alike. Times
 * are this thread's CPU time. Prints one line per file:
 *   file=F format=html bytes=N participants=N ratd_us=M floor_us=M ratio=R
 *   ratd_fmt_us=M ratio_fmt=R
 * with M the median over the runs of the per-parse time and R the median of the runs'
 * ratios. Exit 1 when a file does not parse. */
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "untc.h"

#define BENCH_MAX_FILE ((size_t)64 << 20)
#define BENCH_MAX_RUNS 101

static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(BENCH_MAX_FILE)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, BENCH_MAX_FILE, f);
	fclose(f);
	return buf;
}

static int
ratd_once(const char *buf, size_t len, enum untc_format fmt)
{
	char err[256];
	struct snapshot *s = untc_parse(buf, len, fmt, err, sizeof(err));

	if (s == NULL)
		return -1;
	snapshot_free(s);
	return 0;
}

static int
floor_once(const char *buf, size_t len, enum untc_format fmt)
{
	xmlDoc *doc;

	if (fmt == UNTC_XML)
		doc = xmlReadMemory(buf, (int)len, NULL, NULL,
		    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	else
		doc = htmlReadMemory(buf, (int)len, NULL, NULL,
		    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		    HTML_PARSE_RECOVER);
	if (doc == NULL)
		return -1;
	xmlFreeDoc(doc);
	return 0;
}

static int
dblcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dblcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
bench_file(const char *path, int iters, int runs)
{
	double rt[BENCH_MAX_RUNS], xt[BENCH_MAX_RUNS], ft[BENCH_MAX_RUNS];
	double ratio[BENCH_MAX_RUNS], xratio[BENCH_MAX_RUNS], t0;
	enum untc_format fmt;
	struct snapshot *s;
	char err[256];
	size_t len, n;
	char *buf;
	int r, i, bad = 0;

	if ((buf = read_file(path, &len)) == NULL) {
		fprintf(stderr, "parse_bench: cannot read %s\n", path);
		return -1;
	}
	fmt = untc_detect(buf, len);
	if ((s = untc_parse(buf, len, UNTC_AUTO, err, sizeof(err))) == NULL) {
		fprintf(stderr, "parse_bench: %s: %s\n", path, err);
		free(buf);
		return -1;
	}
	n = s->n;
	snapshot_free(s);
	for (r = 0; r < runs; r++) {
		t0 = cpu_us();
		for (i = 0; i < iters; i++)
			bad |= ratd_once(buf, len, UNTC_AUTO);
		rt[r] = (cpu_us() - t0) / iters;
		t0 = cpu_us();
		for (i = 0; i < iters; i++)
			bad |= ratd_once(buf, len, fmt);
		xt[r] = (cpu_us() - t0) / iters;
		t0 = cpu_us();
		for (i = 0; i < iters; i++)
			bad |= floor_once(buf, len, fmt);
		ft[r] = (cpu_us() - t0) / iters;
		ratio[r] = rt[r] / ft[r];
		xratio[r] = xt[r] / ft[r];
	}
	free(buf);
	if (bad) {
		fprintf(stderr, "parse_bench: %s: a parse failed during the runs\n", path);
		return -1;
	}
	printf("file=%s format=%s bytes=%zu participants=%zu ratd_us=%.1f floor_us=%.1f "
	    "ratio=%.3f ratd_fmt_us=%.1f ratio_fmt=%.3f\n", path, untc_format_name(fmt), len, n,
	    median(rt, runs), median(ft, runs), median(ratio, runs), median(xt, runs),
	    median(xratio, runs));
	return 0;
}

int
main(int argc, char **argv)
{
	int ch, iters = 200, runs = 11, rc = 0;

	while ((ch = getopt(argc, argv, "n:r:")) != -1) {
		switch (ch) {
		case 'n': iters = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: parse_bench [-n ITERATIONS] [-r RUNS] FILE...\n");
			return 2;
		}
	}
	if (iters < 1 || runs < 1 || runs > BENCH_MAX_RUNS || optind == argc) {
		fprintf(stderr, "usage: parse_bench [-n ITERATIONS] [-r RUNS] FILE...\n");
		return 2;
	}
	xmlInitParser();
	for (; optind < argc; optind++)
		if (bench_file(argv[optind], iters, runs) < 0)
			rc = 1;
	xmlCleanupParser();
	return rc;
}
