/* The Atom feed: one entry per event, ids from the event ids, so readers never see an
 * event twice however often the file is rewritten. */
#include <ctype.h>
#include <string.h>

#include "event.h"
#include "feed.h"
#include "svg.h"

void
feed_authority(const char *base_url, char *out, size_t len)
{
	const char *h = strstr(base_url, "://"), *end, *at;
	size_t n, i;

	snprintf(out, len, "ratd.invalid");
	if (h == NULL)
		return;
	h += 3;
	end = h + strcspn(h, "/?#");
	if ((at = memchr(h, '@', (size_t)(end - h))) != NULL)
		h = at + 1;
	n = strcspn(h, ":/?#");
	if (h + n > end)
		n = (size_t)(end - h);
	/* A DNS name (or IPv4 address): what RFC 4151 takes as a tagging authority. */
	if (n == 0 || n >= len || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		return;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)h[i]);
	out[n] = '\0';
}

static const char *
feed_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
feed_link(FILE *out, const char *rel, const char *type, const char *base_url,
    const char *file, const char *fragment)
{
	fprintf(out, "<link rel=\"%s\" type=\"%s\" href=\"", rel, type);
	svg_escape(out, base_url);
	svg_escape(out, file);
	if (fragment != NULL) {
		fputc('#', out);
		svg_escape(out, fragment);
	}
	fputs("\"/>\n", out);
}

static void
feed_entry(FILE *out, const json_t *ev, const json_t *titles, const char *base_url,
    const char *authority)
{
	const char *treaty = event_treaty(ev), *time = feed_str(ev, "time");
	const char *title = feed_str(titles, treaty != NULL ? treaty : "");

	fprintf(out, "<entry>\n<id>tag:%s,%s:ratd/event/%llu</id>\n<title>", authority,
	    FEED_TAG_YEAR, (unsigned long long)event_id(ev));
	svg_escape(out, feed_str(ev, "summary"));
	fputs("</title>\n<updated>", out);
	svg_escape(out, time);
	fputs("</updated>\n<published>", out);
	svg_escape(out, time);
	fputs("</published>\n<category term=\"", out);
	svg_escape(out, event_type(ev));
	fputs("\"/>\n", out);
	feed_link(out, "alternate", "text/html", base_url, "index.html", treaty);
	fputs("<summary>", out);
	svg_escape(out, feed_str(ev, "summary"));
	fputs(". ", out);
	if (title != NULL) {
		svg_escape(out, treaty);
		fputs(": ", out);
		svg_escape(out, title);
		fputs(". ", out);
	}
	fputs("Event ", out);
	svg_escape(out, event_type(ev));
	fprintf(out, " #%llu, recorded by ratd at ", (unsigned long long)event_id(ev));
	svg_escape(out, time);
	fputs(".</summary>\n</entry>\n", out);
}

void
feed_write(FILE *out, const json_t *events, const json_t *titles, const char *base_url,
    const char *fallback)
{
	const char *updated = feed_str(json_array_get(events, 0), "time");
	char authority[256];
	size_t i;

	feed_authority(base_url, authority, sizeof(authority));
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n", out);
	fprintf(out, "<id>tag:%s,%s:ratd/feed</id>\n", authority, FEED_TAG_YEAR);
	fputs("<title>Treaty ratifications and entry into force</title>\n"
	    "<subtitle>Events ratd saw on the UN Treaty Collection's pages</subtitle>\n"
	    "<updated>", out);
	svg_escape(out, updated != NULL ? updated : fallback);
	fputs("</updated>\n<author><name>ratd</name></author>\n"
	    "<generator>ratd</generator>\n", out);
	feed_link(out, "self", "application/atom+xml", base_url, "feed.atom", NULL);
	feed_link(out, "alternate", "text/html", base_url, "index.html", NULL);
	for (i = 0; i < json_array_size(events) && i < FEED_MAX_ENTRIES; i++)
		feed_entry(out, json_array_get(events, i), titles, base_url, authority);
	fputs("</feed>\n", out);
}
