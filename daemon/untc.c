/* UN Treaty Collection pages: the ViewDetails HTML and the MTDSG XML, parsed into snapshots. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "date.h"
#include "snapshot.h"
#include "untc.h"
#include "utf8.h"

#define UNTC_MAX_BODY ((size_t)64 << 20)  /* max_page_size goes no higher; this guards others */
#define UNTC_SNIFF ((size_t)256 << 10)    /* how far into a page a <meta charset> is looked for */
#define UNTC_DETECT 4096                  /* how far past "<?xml" an XHTML root is looked for */
#define UNTC_MAX_MARKER 3                 /* "a", "AA", ...: longer parentheses are not markers */
#define UNTC_MAX_TERMS 8                  /* comma-separated terms read from one column label */
#define UNTC_MAX_COLUMNS 64               /* header cells read from one row */
#define UNTC_SHOWN 60                     /* bytes of a page's text quoted in an error, at most */
#define UNTC_MAX_COUNT 9999999            /* a stated count above this is not a count */
#define UNTC_MAX_NODES 1000               /* nodes read below one cell: real cells hold a few */
#define UNTC_MAX_TABLES 100               /* tables tried without a tblgrid id */
#define UNTC_MAX_REFS 4                   /* footnote references read from one name */
#define UNTC_MAX_NOTES 200                /* footnotes read from one page */
#define UNTC_MAX_NOTE_NO 9999             /* a footnote number above this is not one */
#define UNTC_NAME_SLOTS 2048              /* > 2 x SNAPSHOT_MAX_PARTICIPANTS, a power of 2 */

static const char *const untc_format_names[] = {
	[UNTC_AUTO] = "auto", [UNTC_HTML] = "html", [UNTC_XML] = "xml",
};

/* Folded page text: blanks collapsed to one space, trimmed, cut at a character boundary. */
struct text {
	char s[SNAPSHOT_MAX_TEXT + 1];
	size_t len;
	bool blank;   /* a space is due before the next character */
	bool cut;     /* the text was longer than s */
};

enum role {
	ROLE_NONE = 0,
	ROLE_SIGNATURE,
	ROLE_INSTRUMENT,
};

/* A dated column as its header label describes it. */
struct column {
	int col;                                        /* cell index, -1 when absent */
	char marker[KIND_COUNT_][UNTC_MAX_MARKER + 1];  /* "" when the kind has no marker */
	enum kind deflt;                                /* the kind of a date without marker */
};

struct layout {
	int name;         /* cell index of the participant names, -1 when absent */
	struct column sig;
	struct column ins;
};

/* The kind words of column labels. A term's role decides the column it makes; ROLE_NONE
 * terms (succession) belong to whichever column they stand in. */
static const struct term {
	const char *word;
	enum kind kind;
	enum role role;
} untc_terms[] = {
	{ "signature", KIND_SIGNATURE, ROLE_SIGNATURE },
	{ "succession to signature", KIND_SUCCESSION, ROLE_SIGNATURE },
	{ "succession", KIND_SUCCESSION, ROLE_NONE },
	{ "ratification", KIND_RATIFICATION, ROLE_INSTRUMENT },
	{ "accession", KIND_ACCESSION, ROLE_INSTRUMENT },
	{ "acceptance", KIND_ACCEPTANCE, ROLE_INSTRUMENT },
	{ "approval", KIND_APPROVAL, ROLE_INSTRUMENT },
	{ "formal confirmation", KIND_CONFIRMATION, ROLE_INSTRUMENT },
	{ "confirmation", KIND_CONFIRMATION, ROLE_INSTRUMENT },
	/* A definitive signature is consent to be bound without a later instrument: it
	 * makes a party exactly as a ratification does, so it is recorded as one. */
	{ "definitive signature", KIND_RATIFICATION, ROLE_INSTRUMENT },
};

/* Footnote references: real elements in HTML, escaped markup inside MTDSG text. */
static const char *const untc_notes[][2] = {
	{ "<superscript>", "</superscript>" },
	{ "<sup>", "</sup>" },
};

static const char *const untc_html_sections[] = { "thead", "tbody", "tfoot", NULL };
static const char *const untc_xml_sections[] = { "rows", NULL };
static const char *const untc_no_sections[] = { NULL };

/* Time zones of the "STATUS AS AT" stamp; UNTC stamps New York time. */
static const struct {
	const char *name;
	int hours;
} untc_zones[] = {
	{ "EDT", -4 }, { "EST", -5 }, { "GMT", 0 }, { "UTC", 0 }, { "Z", 0 },
};

/* One footnote of the page. */
struct untc_note {
	uint16_t no;
	struct text text;
};

/* One page being read: the snapshot it fills and where its failure is told. */
struct parse {
	struct snapshot *s;
	struct layout l;
	char *err;
	size_t errlen;
	uint16_t (*refs)[UNTC_MAX_REFS];  /* footnote numbers of each participant, 0-ended;
	                                   * NULL until a name refers to one */
	uint16_t names[UNTC_NAME_SLOTS];  /* 1 + index of each participant by name hash,
	                                   * 0 for a free slot */
};

static void vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int refs_keep(struct parse *p, xmlNode *row);

static void
vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
{
	/* A reason longer than err must not end in half a character. */
	if (err != NULL && errlen > 0 && vsnprintf(err, errlen, fmt, ap) >= (int)errlen)
		utf8_trim_partial(err);
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, errlen, fmt, ap);
	va_end(ap);
}

/* Writes the reason a parse fails and returns -1. */
static int
fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *
untc_format_name(enum untc_format f)
{
	if ((unsigned)f >= sizeof(untc_format_names) / sizeof(untc_format_names[0]))
		return "auto";
	return untc_format_names[f];
}

int
untc_format_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(untc_format_names) / sizeof(untc_format_names[0]); i++)
		if (name != NULL && strcmp(name, untc_format_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Offset of needle in the n bytes at hay, ignoring ASCII case; -1 when absent. */
static long
find_ci(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;
	int c0 = tolower((unsigned char)needle[0]);
	const char *at;

	/* The first byte filters almost every position before the full comparison; a
	 * first byte without case ('<') is found with memchr. */
	if (c0 == toupper(c0)) {
		for (i = 0; m <= n && i <= n - m; i = (size_t)(at - hay) + 1) {
			if ((at = memchr(hay + i, c0, n - m + 1 - i)) == NULL)
				return -1;
			if (m > 1 &&
			    tolower((unsigned char)at[1]) != tolower((unsigned char)needle[1]))
				continue;
			if (strncasecmp(at, needle, m) == 0)
				return at - hay;
		}
		return -1;
	}
	for (i = 0; m <= n && i <= n - m; i++)
		if (tolower((unsigned char)hay[i]) == c0 && strncasecmp(hay + i, needle, m) == 0)
			return (long)i;
	return -1;
}

/* Bytes of the blank at p (ASCII controls, NBSP, NEL, the Unicode spaces, the line and
 * paragraph separators, a BOM), 0 if none. */
static size_t
blank_len(const unsigned char *p)
{
	if (p[0] != '\0' && (p[0] <= ' ' || p[0] == 0x7f))
		return 1;
	if (p[0] == 0xc2 && (p[1] == 0xa0 || p[1] == 0x85))
		return 2;
	if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8b) || p[2] == 0xa8 ||
	    p[2] == 0xa9 || p[2] == 0xaf))
		return 3;
	if ((p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) ||
	    (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf))
		return 3;
	return 0;
}

/* Bytes of a control at p that would make a reader misread the text, 0 if none: a C1
 * control (a terminal acts on some) or a bidi embedding, override or isolate (it shows
 * a name reversed or moves the text after it). */
static size_t
deceptive_len(const unsigned char *p)
{
	if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
	    (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 3;
	return 0;
}

static const char *
skip_blanks(const char *s)
{
	size_t b;

	while ((b = blank_len((const unsigned char *)s)) > 0)
		s += b;
	return s;
}

static void
text_init(struct text *t)
{
	t->s[0] = '\0';
	t->len = 0;
	t->blank = false;
	t->cut = false;
}

static void
text_put(struct text *t, char c)
{
	/* Once cut, nothing more: not even the rest of a character begun before. */
	if (t->cut)
		return;
	if (t->len + 1 < sizeof(t->s)) {
		t->s[t->len++] = c;
		t->s[t->len] = '\0';
		return;
	}
	/* Full: drop the last, maybe partial, character and any space before it. */
	while (t->len > 0 && ((unsigned char)t->s[t->len - 1] & 0xc0) == 0x80)
		t->len--;
	if (t->len > 0 && (unsigned char)t->s[t->len - 1] >= 0xc0)
		t->len--;
	while (t->len > 0 && t->s[t->len - 1] == ' ')
		t->len--;
	t->s[t->len] = '\0';
	t->cut = true;
}

/* Appends n bytes of NUL-terminated s, folding blanks (ASCII controls among them). A
 * page that lies about its encoding must not smuggle bytes that are not UTF-8 into
 * names, nor a page controls that fool whoever reads them in a log, a mail or a
 * terminal: each becomes U+FFFD, which shows that something was there (dropped, a
 * forged name would read as the real one). */
static void
text_addn(struct text *t, const char *s, size_t n)
{
	const char *end = s + strnlen(s, n), *r;
	size_t b, u;

	while (s < end && !t->cut) {
		/* Printable ASCII, most of every page, needs none of the checks below: a run
		 * of it that fits is copied at once. */
		if ((unsigned char)*s > ' ' && (unsigned char)*s < 0x7f) {
			if (t->blank) {
				t->blank = false;
				text_put(t, ' ');
			}
			for (r = s + 1; r < end && (unsigned char)*r > ' ' &&
			    (unsigned char)*r < 0x7f;)
				r++;
			if ((size_t)(r - s) < sizeof(t->s) - t->len) {
				memcpy(t->s + t->len, s, (size_t)(r - s));
				t->len += (size_t)(r - s);
				t->s[t->len] = '\0';
				s = r;
			} else
				text_put(t, *s++);
			continue;
		}
		if ((b = blank_len((const unsigned char *)s)) > 0) {
			if (t->len > 0)
				t->blank = true;
			s += b;
			continue;
		}
		if (t->blank) {
			t->blank = false;
			text_put(t, ' ');
		}
		if ((u = utf8_seq_len((const unsigned char *)s, (const unsigned char *)end)) == 0 ||
		    deceptive_len((const unsigned char *)s) > 0) {
			text_put(t, '\xef');
			text_put(t, '\xbf');
			text_put(t, '\xbd');
			s += u > 0 ? u : 1;
			continue;
		}
		while (u-- > 0)
			text_put(t, *s++);
	}
}

/* Marks a word boundary (an element like <br> or <p>). */
static void
text_blank(struct text *t)
{
	if (t->len > 0)
		t->blank = true;
}

/* Copies in to out without the escaped footnote markup MTDSG leaves in its text. */
static void
text_strip_notes(const struct text *in, struct text *out)
{
	const char *p = in->s, *open, *o, *close;
	size_t i, which = 0;

	/* Most cells hold no markup at all: nothing to strip (and only the text is copied). */
	if (memchr(in->s, '<', in->len) == NULL) {
		memcpy(out->s, in->s, in->len + 1);
		out->len = in->len;
		out->blank = in->blank;
		out->cut = in->cut;
		return;
	}
	text_init(out);
	while (*p != '\0') {
		open = NULL;
		for (i = 0; i < sizeof(untc_notes) / sizeof(untc_notes[0]); i++)
			if ((o = strcasestr(p, untc_notes[i][0])) != NULL &&
			    (open == NULL || o < open)) {
				open = o;
				which = i;
			}
		if (open == NULL) {
			text_addn(out, p, strlen(p));
			break;
		}
		text_addn(out, p, (size_t)(open - p));
		close = strcasestr(open, untc_notes[which][1]);
		p = close != NULL ? close + strlen(untc_notes[which][1]) : open + strlen(open);
	}
	out->cut = out->cut || in->cut;
}

static bool
name_is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE &&
	    strcasecmp((const char *)n->name, name) == 0;
}

static bool
name_in(const xmlNode *n, const char *const names[])
{
	for (; *names != NULL; names++)
		if (name_is(n, *names))
			return true;
	return false;
}

/* Preorder successor of n below top; never leaves top, never enters entity content. */
static xmlNode *
tree_next(xmlNode *n, const xmlNode *top, bool descend)
{
	if (descend && n->children != NULL && (n == top || n->type == XML_ELEMENT_NODE))
		return n->children;
	for (; n != NULL && n != top; n = n->parent)
		if (n->next != NULL)
			return n->next;
	return NULL;
}

/* First element child of parent called name (NULL-safe, so paths can be chained). */
static xmlNode *
child(xmlNode *parent, const char *name)
{
	xmlNode *c;

	if (parent == NULL)
		return NULL;
	for (c = parent->children; c != NULL; c = c->next)
		if (name_is(c, name))
			return c;
	return NULL;
}

/* First element named name in document order below top. */
static xmlNode *
find_element(xmlNode *top, const char *name)
{
	xmlNode *n;

	for (n = tree_next(top, top, true); n != NULL; n = tree_next(n, top, true))
		if (name_is(n, name))
			return n;
	return NULL;
}

static bool
node_skipped(const xmlNode *n)
{
	static const char *const skipped[] = { "sup", "superscript", "script", "style", NULL };

	return name_in(n, skipped);
}

static bool
node_breaks(const xmlNode *n)
{
	static const char *const breaks[] = { "br", "p", "div", "li", "tr", "td", "th", NULL };

	return name_in(n, breaks);
}

/* The folded text below top (empty for NULL), without footnote references; -1 when an
 * entity reference stands in it (its content would be text the page did not show).
 * A cell of more than UNTC_MAX_NODES nodes reads as cut: nested tables must not make
 * each header cost the whole page. */
static int
node_text(xmlNode *top, struct text *t)
{
	struct text raw;
	xmlNode *n;
	bool skip = false;
	size_t seen = 0;

	text_init(t);
	text_init(&raw);
	if (top == NULL)
		return 0;
	for (n = tree_next(top, top, true); n != NULL; n = tree_next(n, top, !skip)) {
		skip = false;
		if (++seen > UNTC_MAX_NODES) {
			raw.cut = true;
			break;
		}
		if (n->type == XML_ENTITY_REF_NODE || n->type == XML_ENTITY_NODE)
			return -1;
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
		    n->content != NULL)
			text_addn(&raw, (const char *)n->content, strlen((const char *)n->content));
		if (n->type == XML_ELEMENT_NODE) {
			skip = node_skipped(n);
			if (node_breaks(n))
				text_blank(&raw);
		}
	}
	text_strip_notes(&raw, t);
	return 0;
}

/* The month of three letters at p ("Jun", "SEP"), as date_month_from_name reads them;
 * 0 for none. Every date cell has one: a table lookup instead of twelve comparisons. */
static int
month3(const char *p)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char low[3];
	int i;

	for (i = 0; i < 3; i++)
		low[i] = (char)(p[i] | 0x20);
	for (i = 0; i < 12; i++)
		if (memcmp(names + 3 * i, low, 3) == 0)
			return i + 1;
	return 0;
}

/* Reads "D Month YYYY" (day one or two digits, month name or abbreviation) at *pp. */
static int
dmy_read(const char **pp, int *y, int *m, int *d)
{
	const char *p = skip_blanks(*pp);
	size_t n;

	for (*d = 0, n = 0; p[n] >= '0' && p[n] <= '9'; n++)
		*d = n < 2 ? *d * 10 + (p[n] - '0') : *d;
	if (n < 1 || n > 2)
		return -1;
	p = skip_blanks(p + n);
	for (n = 0; (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z'); n++)
		;
	if (n == 0 || n > 9 || (*m = n == 3 ? month3(p) : date_month_from_name(p, n)) == 0)
		return -1;
	p = skip_blanks(p + n);
	for (*y = 0, n = 0; p[n] >= '0' && p[n] <= '9'; n++)
		*y = n < 4 ? *y * 10 + (p[n] - '0') : *y;
	if (n != 4 || !date_valid(*y, *m, *d))
		return -1;
	*pp = p + n;
	return 0;
}

/* The kind whose marker is the n letters at p, KIND_NONE when no kind has it. */
static enum kind
marker_kind(const char *const markers[KIND_COUNT_], const char *p, size_t n)
{
	int k;

	for (k = 0; k < KIND_COUNT_; k++)
		if (markers[k] != NULL && strlen(markers[k]) == n && strncmp(markers[k], p, n) == 0)
			return (enum kind)k;
	return KIND_NONE;
}

int
untc_parse_cell(const char *cell, const char *const markers[KIND_COUNT_],
    enum kind deflt, struct action *out)
{
	const char *p = skip_blanks(cell);
	enum kind k = deflt;
	int y, m, d;
	size_t n;

	out->date = DAY_NONE;
	out->kind = KIND_NONE;
	if (*p == '\0')
		return 0;
	if (dmy_read(&p, &y, &m, &d) == -1)
		return -1;
	p = skip_blanks(p);
	for (n = 0; (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z'); n++)
		;
	if (n > 0) {
		k = marker_kind(markers, p, n);
		p = skip_blanks(p + n);
	}
	/* An unknown marker, or trailing text, is a cell this parser does not understand. */
	if (k == KIND_NONE || *p != '\0')
		return -1;
	out->date = date_from_ymd(y, m, d);
	out->kind = k;
	return 0;
}

/* Reads one comma-separated label term, "Accession(a)": its kind word and marker. */
static const struct term *
term_parse(const char *s, size_t n, char marker[UNTC_MAX_MARKER + 1])
{
	size_t i, open, mlen;

	marker[0] = '\0';
	while (n > 0 && *s == ' ')
		s++, n--;
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n > 0 && s[n - 1] == ')' && (open = n - 1) > 0) {
		while (open > 0 && s[open] != '(')
			open--;
		mlen = n - 2 - open;
		for (i = 0; s[open] == '(' && i < mlen; i++)
			if (!((s[open + 1 + i] >= 'A' && s[open + 1 + i] <= 'Z') ||
			    (s[open + 1 + i] >= 'a' && s[open + 1 + i] <= 'z')))
				break;
		if (s[open] == '(' && mlen >= 1 && mlen <= UNTC_MAX_MARKER && i == mlen) {
			memcpy(marker, s + open + 1, mlen);
			marker[mlen] = '\0';
			for (n = open; n > 0 && s[n - 1] == ' '; n--)
				;
		}
	}
	for (i = 0; i < sizeof(untc_terms) / sizeof(untc_terms[0]); i++)
		if (strlen(untc_terms[i].word) == n && strncasecmp(untc_terms[i].word, s, n) == 0)
			return &untc_terms[i];
	return NULL;
}

/* What a column label ("Ratification, Accession(a), Succession(d)") makes of its
 * column: its role, and in c the marker of each kind and the unmarked kind. */
static enum role
column_parse(const char *label, struct column *c)
{
	const struct term *t[UNTC_MAX_TERMS];
	char m[UNTC_MAX_TERMS][UNTC_MAX_MARKER + 1];
	enum role role = ROLE_NONE;
	const char *p = label, *comma;
	size_t nt = 0, i;

	for (; nt < UNTC_MAX_TERMS; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if ((t[nt] = term_parse(p, (size_t)(comma - p), m[nt])) != NULL)
			nt++;
		if (*comma == '\0')
			break;
	}
	for (i = 0; i < nt; i++)
		if (t[i]->role == ROLE_INSTRUMENT ||
		    (t[i]->role == ROLE_SIGNATURE && role == ROLE_NONE))
			role = t[i]->role;
	memset(c, 0, sizeof(*c));
	c->deflt = KIND_NONE;
	for (i = 0; i < nt; i++) {
		if (t[i]->role != role && t[i]->role != ROLE_NONE)
			continue;
		if (m[i][0] != '\0' && c->marker[t[i]->kind][0] == '\0')
			memcpy(c->marker[t[i]->kind], m[i], sizeof(m[i]));
		else if (m[i][0] == '\0' && c->deflt == KIND_NONE)
			c->deflt = t[i]->kind;
	}
	/* A label that names only marked kinds leaves plain dates to the column's usual kind. */
	if (c->deflt == KIND_NONE)
		c->deflt = role == ROLE_SIGNATURE ? KIND_SIGNATURE : KIND_RATIFICATION;
	return role;
}

static void
layout_init(struct layout *l)
{
	memset(l, 0, sizeof(*l));
	l->name = -1;
	l->sig.col = -1;
	l->ins.col = -1;
}

/* Takes the first participant, signature and instrument columns; others are ignored. */
static void
layout_add(struct layout *l, int col, const char *label)
{
	struct column c;

	if (strncasecmp(label, "participant", 11) == 0) {
		if (l->name < 0)
			l->name = col;
		return;
	}
	switch (column_parse(label, &c)) {
	case ROLE_SIGNATURE:
		if (l->sig.col < 0) {
			l->sig = c;
			l->sig.col = col;
		}
		break;
	case ROLE_INSTRUMENT:
		if (l->ins.col < 0) {
			l->ins = c;
			l->ins.col = col;
		}
		break;
	default:
		break;
	}
}

static bool
is_cell(const xmlNode *n)
{
	static const char *const cells[] = { "td", "th", "entry", NULL };

	return name_in(n, cells);
}

/* Reads the column labels of a header row; -1 on an entity reference. */
static int
layout_read(struct layout *l, xmlNode *row)
{
	struct text t;
	xmlNode *c;
	int col = 0;

	layout_init(l);
	for (c = row->children; c != NULL && col < UNTC_MAX_COLUMNS; c = c->next) {
		if (!is_cell(c))
			continue;
		if (node_text(c, &t) == -1)
			return -1;
		layout_add(l, col++, t.s);
	}
	return 0;
}

/* The text of cell col of a row, empty when the row is shorter or col is -1. */
static int
row_cell(xmlNode *row, int col, struct text *t)
{
	xmlNode *c;
	int i = 0;

	text_init(t);
	if (col < 0)
		return 0;
	for (c = row->children; c != NULL; c = c->next)
		if (is_cell(c) && i++ == col)
			return node_text(c, t);
	return 0;
}

/* Next row after n (NULL: the first) below top, entering only the named sections. */
static xmlNode *
row_after(xmlNode *top, xmlNode *n, const char *row, const char *const sections[])
{
	if (top == NULL)
		return NULL;
	if (n == NULL)
		n = top;
	while ((n = tree_next(n, top, n == top || name_in(n, sections))) != NULL)
		if (name_is(n, row))
			return n;
	return NULL;
}

static int
cell_read(struct parse *p, const char *name, const struct column *c, const char *what,
    const struct text *t, struct action *out)
{
	const char *m[KIND_COUNT_];
	int k;

	for (k = 0; k < KIND_COUNT_; k++)
		m[k] = c->marker[k][0] != '\0' ? c->marker[k] : NULL;
	out->date = DAY_NONE;
	out->kind = KIND_NONE;
	if (c->col < 0)
		return 0;
	if (t->cut || untc_parse_cell(t->s, m, c->deflt, out) == -1)
		return fail(p, "%s: %s cell '%.*s' is not a date", name, what,
		    (int)utf8_cut(t->s, UNTC_SHOWN), t->s);
	return 0;
}

/* The slot of name in p->names: the one holding it, or the free one it would take. */
static size_t
names_slot(const struct parse *p, const char *name)
{
	uint32_t h = 2166136261u;
	const unsigned char *c;
	size_t i;

	for (c = (const unsigned char *)name; *c != '\0'; c++)
		h = (h ^ *c) * 16777619u;
	for (i = h & (UNTC_NAME_SLOTS - 1); p->names[i] != 0 &&
	    strcmp(p->s->v[p->names[i] - 1].name, name) != 0;)
		i = (i + 1) & (UNTC_NAME_SLOTS - 1);
	return i;
}

/* Adds the participant of one body row; rows without a name are spacers. */
static int
row_add(struct parse *p, const struct text *name, const struct text *sig,
    const struct text *ins)
{
	struct text bare;
	struct action a_sig, a_ins;
	bool withdrawn = false;
	const struct text *nm = name;
	size_t slot;

	if (name->len >= 2 && name->s[0] == '[' && name->s[name->len - 1] == ']') {
		text_init(&bare);
		text_addn(&bare, name->s + 1, name->len - 2);
		nm = &bare;
		withdrawn = true;
	}
	if (nm->len == 0)
		return 0;
	if (name->cut || nm->len > SNAPSHOT_MAX_NAME)
		return fail(p, "participant name longer than %d bytes: '%.*s...'",
		    SNAPSHOT_MAX_NAME, (int)utf8_cut(nm->s, UNTC_SHOWN), nm->s);
	/* A hashed look-up: a linear one made 200 rows cost 20,000 comparisons. */
	slot = names_slot(p, nm->s);
	if (p->names[slot] != 0)
		return fail(p, "participant '%s' appears twice", nm->s);
	if (p->s->n >= SNAPSHOT_MAX_PARTICIPANTS)
		return fail(p, "participants table has more than %d rows",
		    SNAPSHOT_MAX_PARTICIPANTS);
	if (cell_read(p, nm->s, &p->l.sig, "signature", sig, &a_sig) == -1 ||
	    cell_read(p, nm->s, &p->l.ins, "instrument", ins, &a_ins) == -1)
		return -1;
	if (snapshot_add(p->s, nm->s, withdrawn, a_sig, a_ins) == -1)
		return fail(p, "out of memory");
	p->names[slot] = (uint16_t)p->s->n;
	return 0;
}

static int
row_read(struct parse *p, xmlNode *row)
{
	struct text name, sig, ins;

	size_t n = p->s->n;

	if (row_cell(row, p->l.name, &name) == -1 || row_cell(row, p->l.sig.col, &sig) == -1 ||
	    row_cell(row, p->l.ins.col, &ins) == -1)
		return fail(p, "participants table contains an entity reference");
	if (row_add(p, &name, &sig, &ins) == -1)
		return -1;
	if (p->s->n > n && refs_keep(p, row) == -1)
		return fail(p, "out of memory");
	return 0;
}

/* Fills p->s from a header row and the body rows after `after` below top. */
static int
table_read(struct parse *p, xmlNode *head, xmlNode *top, xmlNode *after, const char *row,
    const char *const sections[])
{
	xmlNode *r;

	if (layout_read(&p->l, head) == -1)
		return fail(p, "participants table contains an entity reference");
	if (p->l.name < 0)
		return fail(p, "participants table has no participant column");
	if (p->l.ins.col < 0)
		return fail(p, "participants table has no instrument column");
	for (r = after; (r = row_after(top, r, row, sections)) != NULL;)
		if (row_read(p, r) == -1)
			return -1;
	if (p->s->n == 0)
		return fail(p, "participants table is empty");
	return 0;
}

/* A stated count after a label: "Signatories : 40." gives 40; -1 when none. */
static int
count_at(const char *s)
{
	long v = 0;
	size_t n;

	while (*s == ' ' || *s == ':')
		s++;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		if ((v = v * 10 + (s[n] - '0')) > UNTC_MAX_COUNT)
			return -1;
	return n > 0 ? (int)v : -1;
}

/* "Signatories : 40. Parties : 59." or "Parties : 19." */
static void
stated_counts(struct snapshot *s, const char *text)
{
	const char *q;

	if ((q = strcasestr(text, "signatories")) != NULL)
		s->stated_signatories = count_at(q + strlen("signatories"));
	if ((q = strcasestr(text, "parties")) != NULL)
		s->stated_parties = count_at(q + strlen("parties"));
}

/* The entry-into-force text and its leading date ("1 July 2003, in accordance ..."). */
static int
stated_eif_text(struct snapshot *s, const struct text *t)
{
	const char *p;
	int y, m, d;

	if (t->len == 0)
		return 0;
	free(s->stated_eif);
	if ((s->stated_eif = strdup(t->s)) == NULL)
		return -1;
	p = t->s;
	if (dmy_read(&p, &y, &m, &d) == 0 &&
	    !((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		s->stated_eif_date = date_from_ymd(y, m, d);
	return 0;
}

static int
stated_eif(struct snapshot *s, xmlNode *n)
{
	struct text t;

	if (node_text(n, &t) == -1)
		return 0;
	return stated_eif_text(s, &t);
}

/* Reads n digits at *pp followed by sep (or by nothing when sep is '\0'). */
static int
digits(const char **pp, size_t n, char sep, int *out)
{
	const char *p = *pp;
	size_t i;

	for (*out = 0, i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*out = *out * 10 + (p[i] - '0');
	}
	if (sep != '\0' && p[n] != sep)
		return -1;
	*pp = p + n + (sep != '\0');
	return 0;
}

/* "STATUS AS AT : 30-09-2024 05:00:44 EDT" to RFC 3339 UTC in buf; -1 when absent
 * or in a zone this table does not know (a guessed time would be a wrong one). */
static int
stamp_parse(const char *text, char buf[DATE_TIME_LEN])
{
	const char *p = strcasestr(text, "status as at");
	int d, mo, y, h, mi, sec;
	size_t i, n;
	time_t t;

	if (p == NULL)
		return -1;
	for (p += strlen("status as at"); *p == ' ' || *p == ':'; p++)
		;
	if (digits(&p, 2, '-', &d) == -1 || digits(&p, 2, '-', &mo) == -1 ||
	    digits(&p, 4, ' ', &y) == -1 || digits(&p, 2, ':', &h) == -1 ||
	    digits(&p, 2, ':', &mi) == -1 || digits(&p, 2, '\0', &sec) == -1 ||
	    !date_valid(y, mo, d) || h > 23 || mi > 59 || sec > 59)
		return -1;
	p = skip_blanks(p);
	for (n = 0; p[n] >= 'A' && p[n] <= 'Z'; n++)
		;
	for (i = 0; i < sizeof(untc_zones) / sizeof(untc_zones[0]); i++)
		if (strlen(untc_zones[i].name) == n && strncmp(untc_zones[i].name, p, n) == 0)
			break;
	if (n == 0 || i == sizeof(untc_zones) / sizeof(untc_zones[0]))
		return -1;
	t = (time_t)date_from_ymd(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    (time_t)untc_zones[i].hours * 3600;
	date_format_time(t, buf);
	return 0;
}

static int
stamp_set(struct snapshot *s, const char *text)
{
	char buf[DATE_TIME_LEN];

	if (stamp_parse(text, buf) == -1)
		return 1;
	free(s->status_as_at);
	return (s->status_as_at = strdup(buf)) == NULL ? -1 : 0;
}

/* The stamp from its element, else from the first text node that holds one. */
static int
stated_stamp(struct snapshot *s, xmlNode *el, xmlNode *top)
{
	struct text t;
	xmlNode *n;
	int r;

	if (el != NULL && node_text(el, &t) == 0 && (r = stamp_set(s, t.s)) != 1)
		return r;
	/* Every stamp has a time, so a text without ':' cannot hold one. */
	for (n = tree_next(top, top, true); n != NULL; n = tree_next(n, top, true))
		if (n->type == XML_TEXT_NODE && n->content != NULL &&
		    strchr((const char *)n->content, ':') != NULL &&
		    (r = stamp_set(s, (const char *)n->content)) != 1)
			return r;
	return 0;
}

/* Refuses what no page of a treaty collection is. */
static int
body_check(const char *buf, size_t len, char *err, size_t errlen)
{
	if (buf == NULL || len == 0) {
		set_err(err, errlen, "empty page");
		return -1;
	}
	if (len > UNTC_MAX_BODY) {
		set_err(err, errlen, "page larger than %zu MiB", UNTC_MAX_BODY >> 20);
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL || memchr(buf, '<', len) == NULL) {
		set_err(err, errlen, "page is not HTML or XML");
		return -1;
	}
	return 0;
}

enum untc_format
untc_detect(const char *buf, size_t len)
{
	const char *at, *end;
	size_t i = 0, n;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (len - i < 5 || memcmp(buf + i, "<?xml", 5) != 0)
		return UNTC_HTML;
	n = len - i < UNTC_DETECT ? len - i : UNTC_DETECT;
	/* One pass over the tags for both: an MTDSG file has hundreds in its first 4 KB. */
	for (end = buf + i + n, at = buf + i; (at = memchr(at, '<', (size_t)(end - at))) != NULL;
	    at++)
		if (end - at > 1 && (at[1] == 'h' || at[1] == 'H' || at[1] == '!') &&
		    (find_ci(at, (size_t)(end - at) < 5 ? (size_t)(end - at) : 5, "<html") == 0 ||
		    find_ci(at, (size_t)(end - at) < 14 ? (size_t)(end - at) : 14,
		    "<!doctype html") == 0))
			return UNTC_HTML;
	return UNTC_XML;
}

/* The charset named in a <meta> tag of n bytes at tag, into out; -1 when none. */
static int
meta_charset(const char *tag, size_t n, char *out, size_t outlen)
{
	size_t i = 0, k;
	long at;

	/* The first "charset" followed by '=': name="charset" is not one. */
	for (;;) {
		if ((at = find_ci(tag + i, n - i, "charset")) < 0)
			return -1;
		for (i += (size_t)at + 7; i < n && tag[i] == ' '; i++)
			;
		if (i < n && tag[i] == '=')
			break;
	}
	for (i++; i < n && (tag[i] == ' ' || tag[i] == '"' || tag[i] == '\''); i++)
		;
	for (k = 0; i < n && k + 1 < outlen && (tag[i] == '-' || tag[i] == '_' || tag[i] == '.' ||
	    tag[i] == ':' || (tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
	    (tag[i] >= 'a' && tag[i] <= 'z')); i++)
		out[k++] = tag[i];
	out[k] = '\0';
	return k > 0 ? 0 : -1;
}

/* The encoding to read a page in: its <meta> charset when libxml2 knows it, else
 * UTF-8 (left alone, libxml2 would guess Latin-1 at the first odd byte). */
static void
html_charset(const char *buf, size_t len, char *out, size_t outlen)
{
	xmlCharEncodingHandlerPtr h;
	size_t n = len < UNTC_SNIFF ? len : UNTC_SNIFF, i = 0, tag;
	const char *gt;
	char name[40];
	long at;

	snprintf(out, outlen, "UTF-8");
	/* One pass: each tag is read up to its '>' and the search goes on after it, so no
	 * byte is looked at twice (a page of "<meta <meta ..." with no '>' once cost
	 * seconds). A "<meta" inside another tag's attributes is no tag of its own. */
	while (i < n && (at = find_ci(buf + i, n - i, "<meta")) >= 0) {
		i += (size_t)at + 5;
		gt = memchr(buf + i, '>', n - i);
		tag = gt != NULL ? (size_t)(gt - (buf + i)) : n - i;
		if (meta_charset(buf + i, tag, name, sizeof(name)) == -1) {
			i += tag;
			continue;
		}
		if ((h = xmlFindCharEncodingHandler(name)) != NULL) {
			xmlCharEncCloseFunc(h);
			snprintf(out, outlen, "%s", name);
		}
		return;
	}
}

struct html_marks {
	xmlNode *grid;    /* id ending in tblgrid: the participants table */
	xmlNode *status;  /* rptStatus_ctl00_tcText: "Signatories : 40. Parties : 59." */
	xmlNode *eif;     /* rptEIF_ctl00_tcText */
	xmlNode *as_at;   /* divStatusAsAt */
	xmlNode *title;
};

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char *
node_id(const xmlNode *n)
{
	const xmlAttr *a;

	for (a = n->properties; a != NULL; a = a->next)
		if (strcasecmp((const char *)a->name, "id") == 0 && a->children != NULL &&
		    a->children->type == XML_TEXT_NODE && a->children->content != NULL)
			return (const char *)a->children->content;
	return NULL;
}

/* Footnotes. A participant's name carries references (<sup>2</sup>, or the escaped
 * <superscript>2</superscript> of MTDSG text); the page's notes hold the texts. The
 * texts become the participant's notes, and a note that says the participant withdrew
 * from (or denounced) the treaty marks it withdrawn with the date the note gives. */

/* The references of one name cell, in page order. */
static void
refs_scan(const char *s, uint16_t refs[UNTC_MAX_REFS], size_t *n)
{
	unsigned long v;
	size_t k;

	while (*s != '\0' && *n < UNTC_MAX_REFS) {
		if (*s < '0' || *s > '9') {
			s++;
			continue;
		}
		for (v = 0; *s >= '0' && *s <= '9'; s++)
			v = v < UNTC_MAX_NOTE_NO ? v * 10 + (unsigned long)(*s - '0') : v;
		for (k = 0; k < *n && refs[k] != v; k++)
			;
		if (v >= 1 && v <= UNTC_MAX_NOTE_NO && k == *n)
			refs[(*n)++] = (uint16_t)v;
	}
}

/* The digits between each escaped <superscript> and its end tag in a text node. */
static void
refs_escaped(const char *s, uint16_t refs[UNTC_MAX_REFS], size_t *n)
{
	char num[16];
	const char *o, *c;

	/* Most texts hold no markup: no search set up for them. */
	if (strchr(s, '<') == NULL)
		return;
	while ((o = strcasestr(s, "<superscript>")) != NULL) {
		o += strlen("<superscript>");
		if ((c = strcasestr(o, "</superscript>")) == NULL)
			return;
		snprintf(num, sizeof(num), "%.*s", (int)(c - o < 15 ? c - o : 15), o);
		refs_scan(num, refs, n);
		s = c;
	}
}

static void
cell_refs(xmlNode *cell, uint16_t refs[UNTC_MAX_REFS], size_t *n)
{
	struct text t;
	xmlNode *x;
	size_t seen = 0;

	*n = 0;
	for (x = tree_next(cell, cell, true); x != NULL && seen++ < UNTC_MAX_NODES;
	    x = tree_next(x, cell, true)) {
		if (name_is(x, "sup") || name_is(x, "superscript")) {
			text_init(&t);
			if (x->children != NULL && x->children->type == XML_TEXT_NODE &&
			    x->children->content != NULL)
				text_addn(&t, (const char *)x->children->content,
				    strlen((const char *)x->children->content));
			refs_scan(t.s, refs, n);
		} else if (x->type == XML_TEXT_NODE && x->content != NULL)
			refs_escaped((const char *)x->content, refs, n);
	}
}

/* Keeps the references of the participant just added, for notes_attach. */
static int
refs_keep(struct parse *p, xmlNode *row)
{
	uint16_t refs[UNTC_MAX_REFS];
	xmlNode *c;
	size_t n = 0;
	int i = 0;

	for (c = row->children; c != NULL; c = c->next)
		if (is_cell(c) && i++ == p->l.name)
			break;
	if (c == NULL)
		return 0;
	cell_refs(c, refs, &n);
	if (n == 0)
		return 0;
	if (p->refs == NULL &&
	    (p->refs = calloc(SNAPSHOT_MAX_PARTICIPANTS, sizeof(*p->refs))) == NULL)
		return -1;
	memcpy(p->refs[p->s->n - 1], refs, n * sizeof(refs[0]));
	return 0;
}

/* Where a withdrawal note states the date it took effect. */
static const char *const untc_effect_words[] = {
	"effective as of ", "effective as from ", "effect as of ", "effect as from ",
	"effective on ", "effect on ", "effective from ", "effect from ", "effective ",
	NULL,
};

/* Words of a note whose withdrawal never took effect: notified, then taken back
 * ("rescinded its notification", "... would have taken effect on ..."). */
static const char *const untc_undone_words[] = {
	"rescind", "revok", "revoc", "reversed", "would have taken effect",
	"withdrew its notification", "withdrawal of its notification",
	"withdrawal of the notification", NULL,
};

/* True when text says its participant withdrew from or denounced the treaty; *when is
 * the date it gives after "took effect on", "effective on", "with effect from",
 * "effective as of" and the like (DAY_NONE when none). A withdrawn reservation or
 * declaration ("withdraw the reservation") is not a withdrawal from the treaty, nor is
 * a notification taken back before it took effect. */
static bool
note_withdrawal(const char *text, day_t *when)
{
	const char *q, *r;
	int y, m, d;
	size_t i;

	*when = DAY_NONE;
	if (strcasestr(text, "withdraw from") == NULL &&
	    strcasestr(text, "withdrawal from") == NULL &&
	    strcasestr(text, "denounce the") == NULL &&
	    strcasestr(text, "denunciation of the") == NULL)
		return false;
	for (i = 0; untc_undone_words[i] != NULL; i++)
		if (strcasestr(text, untc_undone_words[i]) != NULL)
			return false;
	for (i = 0; untc_effect_words[i] != NULL; i++)
		for (q = text; (q = strcasestr(q, untc_effect_words[i])) != NULL; q++) {
			r = q + strlen(untc_effect_words[i]);
			if (dmy_read(&r, &y, &m, &d) == 0) {
				*when = date_from_ymd(y, m, d);
				return true;
			}
		}
	return true;
}

static void
note_withdrawn(struct participant *pp, day_t when)
{
	pp->withdrawn = true;
	if (when != DAY_NONE) {
		pp->withdrawal_date = when;
		pp->withdrawal_from_page = true;
	}
}

/* Whether a withdrawal note concerns the instrument the table shows: always for a
 * bracketed name (the note dates it); for any other only when the withdrawal takes
 * effect after that instrument, since one dated on or before it was followed by the
 * State's joining again (denounced and re-acceded), and an undated one cannot be told. */
static bool
note_applies(const struct participant *pp, day_t when)
{
	if (pp->withdrawn)
		return true;
	return when != DAY_NONE &&
	    (pp->instrument.date == DAY_NONE || when > pp->instrument.date);
}

/* Gives each participant the texts of the notes its name refers to. */
static int
notes_attach(struct parse *p, const struct untc_note *notes, size_t nnotes)
{
	day_t when;
	size_t i, k, j;

	if (p->refs == NULL)
		return 0;
	for (i = 0; i < p->s->n; i++)
		for (k = 0; k < UNTC_MAX_REFS && p->refs[i][k] != 0; k++)
			for (j = 0; j < nnotes; j++) {
				if (notes[j].no != p->refs[i][k])
					continue;
				if (snapshot_add_note(p->s, i, notes[j].text.s) == -1)
					return -1;
				if (note_withdrawal(notes[j].text.s, &when) &&
				    note_applies(&p->s->v[i], when))
					note_withdrawn(&p->s->v[i], when);
			}
	return 0;
}

/* One note: a number and its text, both read from the same paragraph or element. */
static int
note_add(struct untc_note *notes, size_t *n, unsigned long no, const struct text *t)
{
	if (*n >= UNTC_MAX_NOTES || no < 1 || no > UNTC_MAX_NOTE_NO || t->len == 0)
		return 0;
	notes[*n].no = (uint16_t)no;
	notes[*n].text = *t;
	(*n)++;
	return 0;
}

/* The number a note starts with: its first <sup> (or escaped <superscript>), else its
 * leading digits; 0 when none. */
static unsigned long
note_number(xmlNode *par)
{
	uint16_t refs[UNTC_MAX_REFS];
	const char *s;
	xmlNode *c;
	size_t n = 0;

	for (c = par->children; c != NULL; c = c->next) {
		if (c->type == XML_TEXT_NODE && c->content != NULL) {
			s = skip_blanks((const char *)c->content);
			if (*s == '\0')
				continue;
			if (strncasecmp(s, "<superscript>", 13) == 0)
				refs_escaped(s, refs, &n);
			else if (*s >= '0' && *s <= '9')
				return strtoul(s, NULL, 10);
			return n > 0 ? refs[0] : 0;
		}
		if (name_is(c, "sup") || name_is(c, "superscript")) {
			cell_refs(par, refs, &n);
			return n > 0 ? refs[0] : 0;
		}
		if (c->type == XML_ELEMENT_NODE)
			return 0;
	}
	return 0;
}

/* A withdrawal table among the notes: a "Participant" column and a column whose label
 * speaks of the date of effect ("Date of effect", "Effective date"). */
static void
notes_table(struct parse *p, xmlNode *table)
{
	xmlNode *head = row_after(table, NULL, "tr", untc_html_sections), *r, *c;
	int who = -1, eff = -1, i;
	struct text t, name;
	struct action a;
	long k;

	for (c = head ? head->children : NULL, i = 0; c != NULL; c = c->next) {
		if (!is_cell(c))
			continue;
		if (node_text(c, &t) == 0 && strcasestr(t.s, "participant") != NULL)
			who = i;
		else if (node_text(c, &t) == 0 && strcasestr(t.s, "effect") != NULL)
			eff = i;
		i++;
	}
	if (who < 0 || eff < 0)
		return;
	for (r = head; (r = row_after(table, r, "tr", untc_html_sections)) != NULL;) {
		if (row_cell(r, who, &name) == -1 || row_cell(r, eff, &t) == -1 || name.cut)
			continue;
		if (name.len >= 2 && name.s[0] == '[' && name.s[name.len - 1] == ']') {
			memmove(name.s, name.s + 1, name.len - 2);
			name.s[name.len - 2] = '\0';
		}
		if ((k = snapshot_find(p->s, name.s)) < 0 ||
		    untc_parse_cell(t.s, (const char *const[KIND_COUNT_]){ NULL },
		    KIND_RATIFICATION, &a) == -1 || a.date == DAY_NONE)
			continue;
		note_withdrawn(&p->s->v[k], a.date);
	}
}

/* The notes of a ViewDetails page: every element whose id ends in divNotesAll holds
 * paragraphs "<sup>N</sup> text" and, on pages with withdrawals, a table of them. */
static int
html_notes(struct parse *p, xmlNode *top)
{
	struct untc_note *notes;
	const char *id;
	xmlNode *n, *x;
	struct text t;
	size_t nn = 0;
	int rc;

	if ((notes = calloc(UNTC_MAX_NOTES, sizeof(*notes))) == NULL)
		return -1;
	for (n = tree_next(top, top, true); n != NULL; n = tree_next(n, top, true)) {
		if (n->type != XML_ELEMENT_NODE || (id = node_id(n)) == NULL ||
		    !ends_with(id, "divNotesAll"))
			continue;
		for (x = tree_next(n, n, true); x != NULL; x = tree_next(x, n, true))
			if (name_is(x, "p") && node_text(x, &t) == 0)
				note_add(notes, &nn, note_number(x), &t);
			else if (name_is(x, "table"))
				notes_table(p, x);
	}
	rc = notes_attach(p, notes, nn);
	free(notes);
	return rc;
}

/* MTDSG footnotes: each Footnote element, numbered by a Number child (else its leading
 * digits), its text in a Text child (else its own). */
static int
xml_notes(struct parse *p, xmlNode *top)
{
	struct untc_note *notes;
	xmlNode *n, *num, *txt;
	struct text t, nt;
	size_t nn = 0;
	char *end;
	unsigned long no;
	int rc;

	if (p->refs == NULL)
		return 0;
	if ((notes = calloc(UNTC_MAX_NOTES, sizeof(*notes))) == NULL)
		return -1;
	for (n = find_element(top, "Footnote"); n != NULL; n = tree_next(n, top, true)) {
		if (!name_is(n, "Footnote"))
			continue;
		num = child(n, "Number");
		txt = child(n, "Text");
		if (node_text(txt != NULL ? txt : n, &t) == -1)
			continue;
		no = num != NULL && node_text(num, &nt) == 0 ? strtoul(nt.s, NULL, 10) :
		    note_number(n);
		if (num == NULL && txt == NULL && t.s[0] >= '0' && t.s[0] <= '9') {
			/* "1 Official Records ...": the number is not part of the text. */
			(void)strtoul(t.s, &end, 10);
			text_init(&nt);
			text_addn(&nt, end, strlen(end));
			t = nt;
		}
		note_add(notes, &nn, no, &t);
	}
	rc = notes_attach(p, notes, nn);
	free(notes);
	return rc;
}

/* The elements of a ViewDetails page found by their ASP.NET id suffix; first wins. */
static void
html_marks(xmlNode *top, struct html_marks *m)
{
	const char *id;
	xmlNode *n;

	memset(m, 0, sizeof(*m));
	for (n = tree_next(top, top, true); n != NULL; n = tree_next(n, top, true)) {
		if (m->title == NULL && name_is(n, "title"))
			m->title = n;
		if (n->type != XML_ELEMENT_NODE || (id = node_id(n)) == NULL)
			continue;
		if (m->grid == NULL && name_is(n, "table") && ends_with(id, "tblgrid"))
			m->grid = n;
		else if (m->status == NULL && ends_with(id, "rptStatus_ctl00_tcText"))
			m->status = n;
		else if (m->eif == NULL && ends_with(id, "rptEIF_ctl00_tcText"))
			m->eif = n;
		else if (m->as_at == NULL && ends_with(id, "divStatusAsAt"))
			m->as_at = n;
	}
}

/* Without a tblgrid id: the first table headed "Participant" that has an instrument
 * column. Territorial-application and declaration tables also start with
 * "Participant" but date nothing that makes a party, so they are passed over. */
static xmlNode *
html_fallback(struct parse *p, xmlNode *top, const struct html_marks *m)
{
	struct layout l;
	struct text title;
	xmlNode *n, *head;
	bool seen = false;
	int tried = 0;

	for (n = find_element(top, "table"); n != NULL && tried < UNTC_MAX_TABLES;
	    n = tree_next(n, top, true)) {
		if (!name_is(n, "table"))
			continue;
		tried++;
		if ((head = row_after(n, NULL, "tr", untc_html_sections)) == NULL ||
		    layout_read(&l, head) == -1 || l.name != 0)
			continue;
		if (l.ins.col >= 0)
			return n;
		seen = true;
	}
	if (seen)
		fail(p, "participants table has no instrument column");
	else if (m->title != NULL && node_text(m->title, &title) == 0 && title.len > 0)
		fail(p, "no participants table (page title '%.*s')",
		    (int)utf8_cut(title.s, UNTC_SHOWN), title.s);
	else
		fail(p, "no participants table");
	return NULL;
}

static struct snapshot *
html_snapshot(xmlDoc *doc, char *err, size_t errlen)
{
	struct parse p = { .err = err, .errlen = errlen };
	struct html_marks m;
	struct text t;
	xmlNode *top = (xmlNode *)doc, *table, *head;

	if ((p.s = snapshot_new()) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	html_marks(top, &m);
	if ((table = m.grid) == NULL && (table = html_fallback(&p, top, &m)) == NULL)
		goto bad;
	if ((head = row_after(table, NULL, "tr", untc_html_sections)) == NULL) {
		fail(&p, "participants table is empty");
		goto bad;
	}
	if (table_read(&p, head, table, head, "tr", untc_html_sections) == -1)
		goto bad;
	if (m.status != NULL && node_text(m.status, &t) == 0)
		stated_counts(p.s, t.s);
	if (stated_eif(p.s, m.eif) == -1 || stated_stamp(p.s, m.as_at, top) == -1 ||
	    html_notes(&p, top) == -1) {
		fail(&p, "out of memory");
		goto bad;
	}
	free(p.refs);
	return p.s;
bad:
	free(p.refs);
	snapshot_free(p.s);
	return NULL;
}

/* ASP.NET's hidden __VIEWSTATE is most of a UNTC page (64 of its 75 KB) and none of
 * its facts: a copy without that value parses in a third of the time. NULL when
 * there is nothing worth cutting (then the page is parsed as it is). */
static char *
html_drop_viewstate(const char *buf, size_t len, size_t *outlen)
{
	const char *name, *v, *end;
	char *out;

	if ((name = memmem(buf, len, "__VIEWSTATE\"", 12)) == NULL)
		return NULL;
	/* The value attribute of the same tag: before its closing '>'. */
	end = memchr(name, '>', len - (size_t)(name - buf));
	if (end == NULL ||
	    (v = memmem(name, (size_t)(end - name), "value=\"", 7)) == NULL)
		return NULL;
	v += 7;
	if ((end = memchr(v, '"', len - (size_t)(v - buf))) == NULL || end - v < 4096)
		return NULL;
	if ((out = malloc(len - (size_t)(end - v) + 1)) == NULL)
		return NULL;
	memcpy(out, buf, (size_t)(v - buf));
	memcpy(out + (v - buf), end, len - (size_t)(end - buf));
	*outlen = len - (size_t)(end - v);
	out[*outlen] = '\0';
	return out;
}

struct snapshot *
untc_parse_html(const char *buf, size_t len, char *err, size_t errlen)
{
	struct snapshot *s;
	char enc[40], *lean;
	size_t leanlen;
	xmlDoc *doc;

	if (body_check(buf, len, err, errlen) == -1)
		return NULL;
	html_charset(buf, len, enc, sizeof(enc));
	if ((lean = html_drop_viewstate(buf, len, &leanlen)) != NULL) {
		buf = lean;
		len = leanlen;
	}
	/* The charset is chosen above, so the page's own <meta> must not switch it again. */
	doc = htmlReadMemory(buf, (int)len, NULL, enc, HTML_PARSE_NONET | HTML_PARSE_NOERROR |
	    HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER | HTML_PARSE_IGNORE_ENC);
	free(lean);
	if (doc == NULL) {
		set_err(err, errlen, "page is not HTML or XML");
		return NULL;
	}
	s = html_snapshot(doc, err, errlen);
	xmlFreeDoc(doc);
	return s;
}

/* An MTDSG document: the table under Participants, the counts in its Treaty's Header. */
static struct snapshot *
xml_snapshot(xmlDoc *doc, char *err, size_t errlen)
{
	struct parse p = { .err = err, .errlen = errlen };
	xmlNode *top = (xmlNode *)doc, *part, *group, *body, *head, *after = NULL, *ext;
	struct text t;

	if ((p.s = snapshot_new()) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	/* The root's name is not known: the first Participants element anywhere is the table. */
	part = find_element(top, "Participants");
	if ((group = child(child(part, "Table"), "TGroup")) == NULL) {
		fail(&p, "no participants table");
		goto bad;
	}
	body = child(group, "Tbody");
	head = row_after(child(group, "Thead"), NULL, "row", untc_no_sections);
	if (head == NULL && body != NULL)
		head = after = row_after(body, NULL, "row", untc_xml_sections);
	if (head == NULL || body == NULL) {
		fail(&p, "participants table is empty");
		goto bad;
	}
	if (table_read(&p, head, body, after, "row", untc_xml_sections) == -1)
		goto bad;
	ext = child(child(part->parent, "Header"), "ExternalData");
	if (node_text(child(child(ext, "Status"), "Signatories"), &t) == 0 && t.len > 0)
		p.s->stated_signatories = count_at(t.s);
	if (node_text(child(child(ext, "Status"), "Parties"), &t) == 0 && t.len > 0)
		p.s->stated_parties = count_at(t.s);
	if (stated_eif(p.s, child(child(ext, "EIF"), "Labeltext")) == -1 ||
	    stated_stamp(p.s, NULL, top) == -1 || xml_notes(&p, top) == -1) {
		fail(&p, "out of memory");
		goto bad;
	}
	free(p.refs);
	return p.s;
bad:
	free(p.refs);
	snapshot_free(p.s);
	return NULL;
}

/* Any entity declaration stops the parse: declared entities are how XXE and "billion
 * laughs" pages work, and no MTDSG file needs one. */
static void
xml_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
    const xmlChar *system_id, xmlChar *content)
{
	xmlParserCtxtPtr ctxt = ctx;

	*(bool *)ctxt->_private = true;
	ctxt->wellFormed = 0;
	xmlStopParser(ctxt);
}

/* The parser's complaint, on one line. */
static void
xml_error(xmlParserCtxtPtr ctxt, char *err, size_t errlen)
{
	const xmlError *e = xmlCtxtGetLastError(ctxt);
	struct text t;

	text_init(&t);
	if (e != NULL && e->message != NULL)
		text_addn(&t, e->message, strlen(e->message));
	if (t.len > 0)
		set_err(err, errlen, "XML is not well-formed (line %d: %.*s)", e->line,
		    (int)utf8_cut(t.s, UNTC_SHOWN), t.s);
	else
		set_err(err, errlen, "XML is not well-formed");
}

/* --- MTDSG XML, streamed ----------------------------------------------------------------
 *
 * An MTDSG document is read from libxml2's SAX events as they come, without building a
 * tree: the participants table, the counts and the entry-into-force text of its Header,
 * the stamp and the footnotes are taken exactly as the tree reader above takes them
 * (same elements, same first-child rules, same text folding and limits). A document
 * laid out in an order that cannot be read in one pass (a Thead after its Tbody, the
 * Header after the Participants it belongs to, nesting deeper than the reader follows)
 * is read again with the tree reader, so either way the result is the same. */

#define XS_MAX_DEPTH 300  /* libxml2 itself stops at 256 levels without XML_PARSE_HUGE */
#define XS_MAX_CAPS 8     /* texts read at once: a cell, a footnote and its Number, ... */
#define XS_CACHE 64       /* element names remembered by address (libxml2 interns them) */

/* The element names the reader acts on (case-insensitive, as name_is compares). */
enum xs_name {
	XN_OTHER = 0, XN_PARTICIPANTS, XN_TABLE, XN_TGROUP, XN_THEAD, XN_TBODY, XN_ROWS,
	XN_ROW, XN_HEADER, XN_EXTERNALDATA, XN_STATUS, XN_SIGNATORIES, XN_PARTIES, XN_EIF,
	XN_LABELTEXT, XN_FOOTNOTE, XN_NUMBER, XN_TEXT, XN_SUP,
};

#define XF_SKIP 0x100    /* node_skipped: its text is no part of its parent's */
#define XF_BREAK 0x200   /* node_breaks: a word boundary */
#define XF_CELL 0x400    /* is_cell */
#define XF_NAME 0xff

static const struct {
	const char *name;
	unsigned cls;
} untc_xs_names[] = {
	{ "participants", XN_PARTICIPANTS }, { "table", XN_TABLE }, { "tgroup", XN_TGROUP },
	{ "thead", XN_THEAD }, { "tbody", XN_TBODY }, { "rows", XN_ROWS }, { "row", XN_ROW },
	{ "header", XN_HEADER }, { "externaldata", XN_EXTERNALDATA }, { "status", XN_STATUS },
	{ "signatories", XN_SIGNATORIES }, { "parties", XN_PARTIES }, { "eif", XN_EIF },
	{ "labeltext", XN_LABELTEXT }, { "footnote", XN_FOOTNOTE }, { "number", XN_NUMBER },
	{ "text", XN_TEXT }, { "sup", XN_SUP | XF_SKIP }, { "superscript", XN_SUP | XF_SKIP },
	{ "script", XF_SKIP }, { "style", XF_SKIP }, { "entry", XF_CELL },
	{ "td", XF_CELL | XF_BREAK }, { "th", XF_CELL | XF_BREAK }, { "br", XF_BREAK },
	{ "p", XF_BREAK }, { "div", XF_BREAK }, { "li", XF_BREAK }, { "tr", XF_BREAK },
};

/* What an open element is to the reader. */
enum xs_role {
	XR_NONE = 0, XR_PART, XR_TABLE, XR_GROUP, XR_THEAD, XR_TBODY, XR_HEADROW, XR_BODYROW,
	XR_HDR, XR_EXT, XR_STATUS, XR_EIF, XR_FOOT,
};

/* What a text being read is for. */
enum xs_use {
	XU_HEADCELL, XU_NAME, XU_SIG, XU_INS, XU_SIGNATORIES, XU_PARTIES, XU_EIF, XU_FOOT,
	XU_NUMBER, XU_TEXT,
};

/* Kinds of node that are not elements, as the tree reader tells them apart. */
enum xs_node { XT_TEXT, XT_CDATA, XT_OTHER, XT_ENTITY, XT_ELEMENT };

struct xs_level {
	uint16_t cls;          /* enum xs_name | XF_* */
	uint8_t role;
	uint32_t firsts;       /* the names of which a child has been seen (first-child rules) */
	uint32_t serial;       /* which element this is, for the Header of Participants' parent */
	int cells;             /* cells seen, in a row */
};

/* The text below one element, read as node_text reads it (and, for a name cell or a
 * footnote, its references as cell_refs reads them). */
struct xs_cap {
	int depth;             /* of the element */
	enum xs_use use;
	int col;               /* a header cell's column */
	struct text raw;
	size_t seen;
	int skip;              /* depth of the skipped element being passed over, 0 when none */
	bool stop, entity;
	bool refs;             /* reading references too */
	uint16_t ref[UNTC_MAX_REFS];
	size_t nref, rseen;
	int sup;               /* depth of a <sup> whose first child is due, 0 when none */
	/* A footnote's: its Number and Text children, and the number it starts with. */
	struct xs_foot {
		uint32_t seq;
		bool has_num, num_ok, has_txt, txt_ok, decided, by_refs;
		unsigned long lead;
		struct text num, txt;
	} *foot;
};

struct xs_notes {
	struct untc_note *v;   /* in document order of their Footnote elements */
	uint32_t *seq;
	size_t n, cap;
};

/* The first Header child of an element: what the Participants next to it may take. */
struct xs_header {
	bool used;
	int depth;             /* of its parent */
	uint32_t parent;       /* its parent's serial */
	bool sig, par, eif;    /* read without entity references */
	struct text tsig, tpar, teif;
};

struct xs {
	struct parse p;
	bool entities, fallback, failed, oom;
	int depth;
	uint32_t serial;
	bool part, group, thead, tbody, head;  /* seen: Participants, its TGroup, ... */
	bool layout;           /* the header row is read */
	uint32_t part_parent;
	bool stamp;            /* the stamp is found */
	char *run;             /* the text node being received, NUL-terminated */
	size_t run_len, run_cap;
	enum xs_node run_type; /* XT_TEXT or XT_CDATA while run_len > 0 */
	bool ents[3];          /* an entity reference in the row's name, sig and ins cells */
	struct text cell[3];   /* the row's name, signature and instrument cells */
	uint16_t row_ref[UNTC_MAX_REFS];
	size_t row_nref;
	struct xs_header hdr;
	struct xs_notes notes;
	uint32_t foot_seq;
	int ncaps;
	struct xs_cap cap[XS_MAX_CAPS];
	struct xs_foot foot[XS_MAX_CAPS];
	struct {
		const xmlChar *name;
		uint16_t cls;
	} cache[XS_CACHE];
	struct xs_level lv[XS_MAX_DEPTH + 1];
};

/* The class of an element name: libxml2 interns names, so the address mostly answers
 * (names sit a few bytes apart in its dictionary: the address is hashed). */
static unsigned
xs_class(struct xs *x, const xmlChar *name)
{
	size_t h = (size_t)(((uint64_t)(uintptr_t)name * 0x9e3779b97f4a7c15u) >> 58), i, k;
	unsigned cls = XN_OTHER;

	/* Up to four slots from the hashed one: two busy names must not keep evicting
	 * each other. */
	for (k = 0; k < 4 && x->cache[(h + k) % XS_CACHE].name != NULL; k++)
		if (x->cache[(h + k) % XS_CACHE].name == name)
			return x->cache[(h + k) % XS_CACHE].cls;
	for (i = 0; i < sizeof(untc_xs_names) / sizeof(untc_xs_names[0]); i++)
		if (strcasecmp((const char *)name, untc_xs_names[i].name) == 0) {
			cls = untc_xs_names[i].cls;
			break;
		}
	if (k < 4) {
		x->cache[(h + k) % XS_CACHE].name = name;
		x->cache[(h + k) % XS_CACHE].cls = (uint16_t)cls;
	}
	return cls;
}

static void
xs_cap_start(struct xs *x, enum xs_use use, bool refs, int col)
{
	struct xs_cap *c;

	if (x->ncaps == XS_MAX_CAPS) {
		x->fallback = true;
		return;
	}
	c = &x->cap[x->ncaps];
	c->depth = x->depth;
	c->use = use;
	c->col = col;
	text_init(&c->raw);
	c->seen = c->nref = c->rseen = 0;
	c->skip = c->sup = 0;
	c->stop = c->entity = false;
	c->refs = refs;
	c->foot = NULL;
	if (use == XU_FOOT) {
		c->foot = &x->foot[x->ncaps];
		memset(c->foot, 0, offsetof(struct xs_foot, num));
		c->foot->seq = x->foot_seq++;
	}
	x->ncaps++;
}

/* Counts one more node of the text being read: false when it is skipped, stopped, or
 * now past UNTC_MAX_NODES (then cut and stopped), as the tree reader bounds a cell. */
static bool
xs_cap_counts(struct xs_cap *c)
{
	if (c->skip != 0 || c->stop)
		return false;
	if (++c->seen > UNTC_MAX_NODES) {
		c->raw.cut = true;
		c->stop = true;
		return false;
	}
	return true;
}

/* A node that is not an element, at depth, for the texts being read. */
static void
xs_cap_node(struct xs_cap *c, enum xs_node type, const char *s, size_t n, int depth)
{
	struct text t;

	if (c->refs) {
		/* cell_refs: a <sup>'s first child, when text, holds reference numbers. */
		if (c->sup != 0 && depth == c->sup + 1) {
			if (type == XT_TEXT) {
				text_init(&t);
				text_addn(&t, s, n);
				refs_scan(t.s, c->ref, &c->nref);
			}
			c->sup = 0;
		}
		if (c->rseen++ < UNTC_MAX_NODES && type == XT_TEXT)
			refs_escaped(s, c->ref, &c->nref);
	}
	if (!xs_cap_counts(c))
		return;
	if (type == XT_ENTITY)
		c->entity = c->stop = true;
	else if (type == XT_TEXT || type == XT_CDATA)
		text_addn(&c->raw, s, n);
}

/* An element start at depth below a text being read. */
static void
xs_cap_open(struct xs_cap *c, unsigned cls, int depth)
{
	if (c->refs) {
		if (c->sup != 0 && depth == c->sup + 1)
			c->sup = 0;
		if (c->rseen++ < UNTC_MAX_NODES && (cls & XF_NAME) == XN_SUP)
			c->sup = depth;
	}
	if (!xs_cap_counts(c))
		return;
	if (cls & XF_SKIP)
		c->skip = depth;
	if (cls & XF_BREAK)
		text_blank(&c->raw);
}

static void
xs_cap_close(struct xs_cap *c, int depth)
{
	if (c->skip == depth)
		c->skip = 0;
	if (c->sup == depth)
		c->sup = 0;
}

/* Keeps a footnote's note among the first UNTC_MAX_NOTES in document order (a nested
 * Footnote ends before the one around it, so they arrive out of order). */
static int
xs_note_keep(struct xs_notes *ns, uint32_t seq, unsigned long no, const struct text *t)
{
	size_t i, cap;
	void *v;

	if (no < 1 || no > UNTC_MAX_NOTE_NO || t->len == 0 ||
	    (ns->n == UNTC_MAX_NOTES && seq > ns->seq[ns->n - 1]))
		return 0;
	if (ns->n == ns->cap && ns->cap < UNTC_MAX_NOTES) {
		cap = ns->cap == 0 ? 8 : ns->cap * 2 > UNTC_MAX_NOTES ? UNTC_MAX_NOTES : ns->cap * 2;
		if ((v = realloc(ns->v, cap * sizeof(*ns->v))) == NULL)
			return -1;
		ns->v = v;
		if ((v = realloc(ns->seq, cap * sizeof(*ns->seq))) == NULL)
			return -1;
		ns->seq = v;
		ns->cap = cap;
	}
	for (i = ns->n; i > 0 && ns->seq[i - 1] > seq; i--)
		;
	if (ns->n == UNTC_MAX_NOTES)
		ns->n--;
	memmove(&ns->v[i + 1], &ns->v[i], (ns->n - i) * sizeof(*ns->v));
	memmove(&ns->seq[i + 1], &ns->seq[i], (ns->n - i) * sizeof(*ns->seq));
	ns->v[i].no = (uint16_t)no;
	ns->v[i].text = *t;
	ns->seq[i] = seq;
	ns->n++;
	return 0;
}

/* A Footnote read, as xml_notes reads one. */
static int
xs_foot_done(struct xs *x, struct xs_cap *c)
{
	struct xs_foot *f = c->foot;
	struct text whole, nt;
	const struct text *t = &f->txt;
	unsigned long no;
	char *end;

	if (f->has_txt ? !f->txt_ok : c->entity)
		return 0;
	if (!f->has_txt) {
		text_strip_notes(&c->raw, &whole);
		t = &whole;
	}
	if (f->has_num && f->num_ok)
		no = strtoul(f->num.s, NULL, 10);
	else
		no = f->by_refs ? (c->nref > 0 ? c->ref[0] : 0) : f->lead;
	if (!f->has_num && !f->has_txt && t->s[0] >= '0' && t->s[0] <= '9') {
		/* "1 Official Records ...": the number is not part of the text. */
		(void)strtoul(t->s, &end, 10);
		text_init(&nt);
		text_addn(&nt, end, strlen(end));
		t = &nt;
	}
	return xs_note_keep(&x->notes, f->seq, no, t);
}

/* The number a footnote starts with, from its first child that decides it (note_number). */
static void
xs_foot_lead(struct xs_foot *f, enum xs_node type, unsigned cls, const char *s)
{
	uint16_t refs[UNTC_MAX_REFS];
	size_t n = 0;

	if (f->decided)
		return;
	if (type == XT_TEXT) {
		s = skip_blanks(s);
		if (*s == '\0')
			return;
		if (strncasecmp(s, "<superscript>", 13) == 0) {
			refs_escaped(s, refs, &n);
			f->lead = n > 0 ? refs[0] : 0;
		} else if (*s >= '0' && *s <= '9')
			f->lead = strtoul(s, NULL, 10);
	} else if (type == XT_ELEMENT) {
		/* An element: a <sup> gives the first reference below the footnote. */
		f->by_refs = (cls & XF_NAME) == XN_SUP;
	} else
		return;
	f->decided = true;
}

/* A node that is not an element, below the current element: for every text being read,
 * a footnote's leading number and the stamp. */
static void
xs_node(struct xs *x, enum xs_node type, const char *s, size_t n)
{
	struct xs_cap *c;
	int depth = x->depth + 1, r;

	for (c = x->cap; c < x->cap + x->ncaps; c++) {
		xs_cap_node(c, type, s, n, depth);
		if (c->foot != NULL && depth == c->depth + 1)
			xs_foot_lead(c->foot, type, 0, s);
	}
	/* Every stamp has a time, so a text without ':' cannot hold one. */
	if (type == XT_TEXT && !x->stamp && memchr(s, ':', n) != NULL &&
	    (r = stamp_set(x->p.s, s)) != 1) {
		x->stamp = true;
		x->oom = x->oom || r == -1;
	}
}

/* The text node received so far is whole: libxml2 hands one over in pieces. */
static void
xs_flush(struct xs *x)
{
	if (x->run_len == 0)
		return;
	xs_node(x, XT_TEXT, x->run, x->run_len);
	x->run_len = 0;
}

static xmlParserCtxtPtr
xs_ctxt(void *ctx)
{
	return ctx;
}

static struct xs *
xs_of(void *ctx)
{
	return xs_ctxt(ctx)->_private;
}

/* Stops the parse: the tree reader takes the document, or memory ran out. */
static void
xs_stop(void *ctx, bool fallback)
{
	struct xs *x = xs_of(ctx);

	x->fallback = x->fallback || fallback;
	x->oom = x->oom || !fallback;
	xmlStopParser(xs_ctxt(ctx));
}

static void
xs_characters(void *ctx, const xmlChar *s, int n)
{
	struct xs *x = xs_of(ctx);
	size_t cap;
	char *bigger;

	if (n <= 0 || x->fallback || x->oom)
		return;
	if (x->run_len + (size_t)n + 1 > x->run_cap) {
		for (cap = x->run_cap ? x->run_cap : 1024; cap < x->run_len + (size_t)n + 1;)
			cap *= 2;
		if ((bigger = realloc(x->run, cap)) == NULL) {
			xs_stop(ctx, false);
			return;
		}
		x->run = bigger;
		x->run_cap = cap;
	}
	memcpy(x->run + x->run_len, s, (size_t)n);
	x->run_len += (size_t)n;
	x->run[x->run_len] = '\0';
}

/* A CDATA section: a node of its own, never merged with the text around it. */
static void
xs_cdata(void *ctx, const xmlChar *s, int n)
{
	struct xs *x = xs_of(ctx);
	char *copy;

	if (x->fallback || x->oom)
		return;
	xs_flush(x);
	if (x->ncaps == 0)
		return;
	if ((copy = malloc((size_t)n + 1)) == NULL) {
		xs_stop(ctx, false);
		return;
	}
	memcpy(copy, s, (size_t)n);
	copy[n] = '\0';
	xs_node(x, XT_CDATA, copy, (size_t)n);
	free(copy);
}

static void
xs_comment(void *ctx, const xmlChar *value)
{
	struct xs *x = xs_of(ctx);

	if (x->fallback || x->oom || xs_ctxt(ctx)->inSubset != 0)
		return;
	xs_flush(x);
	xs_node(x, XT_OTHER, "", 0);
}

static void
xs_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	xs_comment(ctx, target);
}

/* A reference to an entity that was never declared (a document with an external DTD
 * that is not loaded): node_text refuses a text that holds one. */
static void
xs_reference(void *ctx, const xmlChar *name)
{
	struct xs *x = xs_of(ctx);

	if (x->fallback || x->oom)
		return;
	xs_flush(x);
	xs_node(x, XT_ENTITY, "", 0);
}

/* The first Header child of the element at depth - 1: kept for the Participants that
 * may come next to it. */
static void
xs_header_open(struct xs *x, struct xs_level *parent, struct xs_level *l)
{
	struct xs_header *h = &x->hdr;

	if (x->part) {
		/* After its Participants: not readable in one pass. */
		if (parent->serial == x->part_parent)
			x->fallback = true;
		return;
	}
	/* The header of an element still open might be the one that counts. */
	if (h->used && h->depth < x->depth && x->lv[h->depth].serial == h->parent) {
		x->fallback = true;
		return;
	}
	h->used = true;
	h->depth = x->depth - 1;
	h->parent = parent->serial;
	h->sig = h->par = h->eif = false;
	l->role = XR_HDR;
}

static void
xs_row_open(struct xs *x, struct xs_level *l, bool head)
{
	if (x->failed)
		return;
	if (head) {
		x->head = true;
		layout_init(&x->p.l);
		x->ents[0] = false;
		l->role = XR_HEADROW;
		return;
	}
	text_init(&x->cell[0]);
	text_init(&x->cell[1]);
	text_init(&x->cell[2]);
	x->ents[0] = x->ents[1] = x->ents[2] = false;
	x->row_nref = 0;
	l->role = XR_BODYROW;
}

/* A cell of a row: the header's are all read, a body row's only where the layout says. */
static void
xs_cell_open(struct xs *x, struct xs_level *row)
{
	int i = row->cells++;

	if (row->role == XR_HEADROW) {
		if (i < UNTC_MAX_COLUMNS)
			xs_cap_start(x, XU_HEADCELL, false, i);
	} else if (i == x->p.l.name)
		xs_cap_start(x, XU_NAME, true, i);
	else if (i == x->p.l.sig.col)
		xs_cap_start(x, XU_SIG, false, i);
	else if (i == x->p.l.ins.col)
		xs_cap_start(x, XU_INS, false, i);
}

/* What a new element is, from its name, its parent's role and whether it is the first
 * child of that name (xml_snapshot's child() takes the first). */
static void
xs_role(struct xs *x, struct xs_level *pa, struct xs_level *l, unsigned nm, bool first)
{
	if (nm == XN_PARTICIPANTS && !x->part) {
		x->part = true;
		x->part_parent = pa->serial;
		l->role = XR_PART;
	} else if (nm == XN_HEADER && first)
		xs_header_open(x, pa, l);
	else if (nm == XN_FOOTNOTE) {
		xs_cap_start(x, XU_FOOT, true, 0);
		l->role = XR_FOOT;
	} else if (nm == XN_ROW && first && pa->role == XR_THEAD)
		xs_row_open(x, l, true);
	else if (nm == XN_ROW && pa->role == XR_TBODY)
		xs_row_open(x, l, !x->head);
	else if (nm == XN_ROWS && pa->role == XR_TBODY)
		l->role = XR_TBODY;
	else if ((l->cls & XF_CELL) && (pa->role == XR_HEADROW || pa->role == XR_BODYROW))
		xs_cell_open(x, pa);
	else if (!first)
		return;
	else if (nm == XN_EXTERNALDATA && pa->role == XR_HDR)
		l->role = XR_EXT;
	else if (nm == XN_STATUS && pa->role == XR_EXT)
		l->role = XR_STATUS;
	else if (nm == XN_EIF && pa->role == XR_EXT)
		l->role = XR_EIF;
	else if ((nm == XN_SIGNATORIES || nm == XN_PARTIES) && pa->role == XR_STATUS)
		xs_cap_start(x, nm == XN_SIGNATORIES ? XU_SIGNATORIES : XU_PARTIES, false, 0);
	else if (nm == XN_LABELTEXT && pa->role == XR_EIF)
		xs_cap_start(x, XU_EIF, false, 0);
	else if (nm == XN_TABLE && pa->role == XR_PART)
		l->role = XR_TABLE;
	else if (nm == XN_TGROUP && pa->role == XR_TABLE) {
		x->group = true;
		l->role = XR_GROUP;
	} else if (nm == XN_THEAD && pa->role == XR_GROUP) {
		/* The header row would come after the rows it heads. */
		x->fallback = x->fallback || x->tbody;
		l->role = XR_THEAD;
	} else if (nm == XN_TBODY && pa->role == XR_GROUP) {
		x->tbody = true;
		l->role = XR_TBODY;
	} else if ((nm == XN_NUMBER || nm == XN_TEXT) && pa->role == XR_FOOT)
		xs_cap_start(x, nm == XN_NUMBER ? XU_NUMBER : XU_TEXT, false, 0);
}

static void
xs_start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
    int nns, const xmlChar **ns, int nattr, int ndefaulted, const xmlChar **attrs)
{
	struct xs *x = xs_of(ctx);
	struct xs_level *pa, *l;
	struct xs_cap *c;
	unsigned cls, nm;
	bool first;

	if (x->fallback || x->oom)
		return;
	xs_flush(x);
	if (x->depth == XS_MAX_DEPTH) {
		xs_stop(ctx, true);
		return;
	}
	cls = xs_class(x, name);
	nm = cls & XF_NAME;
	pa = &x->lv[x->depth];
	first = (pa->firsts & (1u << nm)) == 0;
	pa->firsts |= 1u << nm;
	for (c = x->cap; c < x->cap + x->ncaps; c++) {
		xs_cap_open(c, cls, x->depth + 1);
		if (c->foot != NULL && x->depth == c->depth)
			xs_foot_lead(c->foot, XT_ELEMENT, cls, NULL);
	}
	l = &x->lv[++x->depth];
	l->cls = (uint16_t)cls;
	l->role = XR_NONE;
	l->firsts = 0;
	l->serial = ++x->serial;
	l->cells = 0;
	xs_role(x, pa, l, nm, first);
	if (x->fallback)
		xs_stop(ctx, true);
}

/* The header row is read: the layout must name the columns, as table_read requires. */
static void
xs_head_done(struct xs *x)
{
	if (x->failed)
		return;
	x->layout = true;
	if (x->ents[0])
		fail(&x->p, "participants table contains an entity reference");
	else if (x->p.l.name < 0)
		fail(&x->p, "participants table has no participant column");
	else if (x->p.l.ins.col < 0)
		fail(&x->p, "participants table has no instrument column");
	else
		return;
	x->failed = true;
}

/* A body row is read: its participant, as row_read adds one. */
static void
xs_row_done(struct xs *x)
{
	struct parse *p = &x->p;
	size_t n = p->s->n;

	if (x->failed)
		return;
	if (x->ents[0] || x->ents[1] || x->ents[2]) {
		fail(p, "participants table contains an entity reference");
		x->failed = true;
		return;
	}
	if (row_add(p, &x->cell[0], &x->cell[1], &x->cell[2]) == -1) {
		x->failed = true;
		return;
	}
	if (p->s->n == n || x->row_nref == 0)
		return;
	if (p->refs == NULL &&
	    (p->refs = calloc(SNAPSHOT_MAX_PARTICIPANTS, sizeof(*p->refs))) == NULL) {
		fail(p, "out of memory");
		x->failed = true;
		return;
	}
	memcpy(p->refs[p->s->n - 1], x->row_ref, x->row_nref * sizeof(x->row_ref[0]));
}

/* A text is read whole: it goes where its use says. */
static int
xs_cap_end(struct xs *x, struct xs_cap *c)
{
	struct xs_foot *owner = c > x->cap ? c[-1].foot : NULL;
	struct xs_header *h = &x->hdr;
	struct text t;
	int k;

	switch (c->use) {
	case XU_HEADCELL:
		x->ents[0] = x->ents[0] || c->entity;
		if (!x->ents[0]) {
			text_strip_notes(&c->raw, &t);
			layout_add(&x->p.l, c->col, t.s);
		}
		return 0;
	case XU_NAME:
	case XU_SIG:
	case XU_INS:
		k = (int)(c->use - XU_NAME);
		x->ents[k] = c->entity;
		if (!c->entity)
			text_strip_notes(&c->raw, &x->cell[k]);
		if (c->use == XU_NAME) {
			memcpy(x->row_ref, c->ref, sizeof(c->ref));
			x->row_nref = c->nref;
		}
		return 0;
	case XU_SIGNATORIES:
		if ((h->sig = !c->entity))
			text_strip_notes(&c->raw, &h->tsig);
		return 0;
	case XU_PARTIES:
		if ((h->par = !c->entity))
			text_strip_notes(&c->raw, &h->tpar);
		return 0;
	case XU_EIF:
		if ((h->eif = !c->entity))
			text_strip_notes(&c->raw, &h->teif);
		return 0;
	case XU_FOOT:
		return xs_foot_done(x, c);
	case XU_NUMBER:
	case XU_TEXT:
		break;
	}
	/* A Number or Text: its footnote's capture is the one just before it. */
	if (owner == NULL)
		return 0;
	if (c->use == XU_NUMBER) {
		owner->has_num = true;
		if ((owner->num_ok = !c->entity))
			text_strip_notes(&c->raw, &owner->num);
	} else {
		owner->has_txt = true;
		if ((owner->txt_ok = !c->entity))
			text_strip_notes(&c->raw, &owner->txt);
	}
	return 0;
}

static void
xs_end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
	struct xs *x = xs_of(ctx);
	struct xs_cap *c;
	int d = x->depth;

	if (x->fallback || x->oom || d == 0)
		return;
	xs_flush(x);
	for (c = x->cap; c < x->cap + x->ncaps; c++)
		xs_cap_close(c, d);
	while (x->ncaps > 0 && x->cap[x->ncaps - 1].depth == d) {
		if (xs_cap_end(x, &x->cap[x->ncaps - 1]) == -1) {
			xs_stop(ctx, false);
			return;
		}
		x->ncaps--;
	}
	if (x->lv[d].role == XR_HEADROW)
		xs_head_done(x);
	else if (x->lv[d].role == XR_BODYROW)
		xs_row_done(x);
	x->depth--;
}

/* The snapshot, once the whole document is read; NULL with the reason xml_snapshot
 * would give. */
static struct snapshot *
xs_finish(struct xs *x)
{
	struct parse *p = &x->p;
	struct xs_header *h = &x->hdr;
	struct snapshot *s;

	if (!x->part || !x->group)
		fail(p, "no participants table");
	else if (!x->head || !x->tbody)
		fail(p, "participants table is empty");
	else if (x->failed)
		;
	else if (x->oom)
		fail(p, "out of memory");
	else if (p->s->n == 0)
		fail(p, "participants table is empty");
	else {
		if (h->used && h->parent == x->part_parent) {
			if (h->sig && h->tsig.len > 0)
				p->s->stated_signatories = count_at(h->tsig.s);
			if (h->par && h->tpar.len > 0)
				p->s->stated_parties = count_at(h->tpar.s);
			if (h->eif && stated_eif_text(p->s, &h->teif) == -1) {
				fail(p, "out of memory");
				return NULL;
			}
		}
		if (notes_attach(p, x->notes.v, x->notes.n) == -1) {
			fail(p, "out of memory");
			return NULL;
		}
		s = p->s;
		p->s = NULL;
		return s;
	}
	return NULL;
}

static void
xs_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
    const xmlChar *system_id, xmlChar *content)
{
	struct xs *x = xs_of(ctx);

	x->entities = true;
	xs_ctxt(ctx)->wellFormed = 0;
	xmlStopParser(xs_ctxt(ctx));
}

static struct xs *
xs_new(char *err, size_t errlen)
{
	struct xs *x = malloc(sizeof(*x));

	if (x == NULL)
		return NULL;
	/* Everything but the big arrays, which are written before they are read. */
	memset(x, 0, offsetof(struct xs, cap));
	memset(x->cache, 0, sizeof(x->cache));
	memset(&x->lv[0], 0, sizeof(x->lv[0]));
	x->p.err = err;
	x->p.errlen = errlen;
	layout_init(&x->p.l);
	if ((x->p.s = snapshot_new()) == NULL) {
		free(x);
		return NULL;
	}
	return x;
}

static void
xs_free(struct xs *x)
{
	snapshot_free(x->p.s);
	free(x->p.refs);
	free(x->run);
	free(x->notes.v);
	free(x->notes.seq);
	free(x);
}

/* Streams an MTDSG document: NULL with *tree set when the tree reader must read it. */
static struct snapshot *
xml_stream(const char *buf, size_t len, char *err, size_t errlen, bool *tree)
{
	xmlParserCtxtPtr ctxt;
	struct snapshot *s = NULL;
	struct xs *x;
	xmlDoc *doc;

	*tree = false;
	if ((x = xs_new(err, errlen)) == NULL || (ctxt = xmlNewParserCtxt()) == NULL) {
		if (x != NULL)
			xs_free(x);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ctxt->sax->entityDecl = xs_entity_decl;
	ctxt->sax->startElementNs = xs_start;
	ctxt->sax->endElementNs = xs_end;
	ctxt->sax->characters = xs_characters;
	ctxt->sax->ignorableWhitespace = xs_characters;
	ctxt->sax->cdataBlock = xs_cdata;
	ctxt->sax->comment = xs_comment;
	ctxt->sax->processingInstruction = xs_pi;
	ctxt->sax->reference = xs_reference;
	ctxt->_private = x;
	/* No NOENT, DTDLOAD or HUGE: nothing is fetched, expanded or allowed to grow. */
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (x->entities)
		set_err(err, errlen, "XML declares entities; refused");
	else if (x->fallback)
		*tree = true;
	else if (x->oom)
		set_err(err, errlen, "out of memory");
	else if (doc == NULL)
		xml_error(ctxt, err, errlen);
	else
		s = xs_finish(x);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	xs_free(x);
	return s;
}

/* Reads an MTDSG document through libxml2's tree. */
static struct snapshot *
xml_tree(const char *buf, size_t len, char *err, size_t errlen)
{
	xmlParserCtxtPtr ctxt;
	struct snapshot *s;
	bool entities = false;
	xmlDoc *doc;

	if (body_check(buf, len, err, errlen) == -1)
		return NULL;
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ctxt->sax->entityDecl = xml_entity_decl;
	ctxt->_private = &entities;
	/* No NOENT, DTDLOAD or HUGE: nothing is fetched, expanded or allowed to grow. */
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || entities) {
		if (entities)
			set_err(err, errlen, "XML declares entities; refused");
		else
			xml_error(ctxt, err, errlen);
		xmlFreeDoc(doc);
		xmlFreeParserCtxt(ctxt);
		return NULL;
	}
	xmlFreeParserCtxt(ctxt);
	s = xml_snapshot(doc, err, errlen);
	xmlFreeDoc(doc);
	return s;
}

struct snapshot *
untc_parse_xml(const char *buf, size_t len, char *err, size_t errlen)
{
	struct snapshot *s;
	bool tree;

	if (body_check(buf, len, err, errlen) == -1)
		return NULL;
	s = xml_stream(buf, len, err, errlen, &tree);
	return tree ? xml_tree(buf, len, err, errlen) : s;
}

struct snapshot *
untc_parse(const char *buf, size_t len, enum untc_format fmt, char *err, size_t errlen)
{
	if (fmt == UNTC_AUTO)
		fmt = untc_detect(buf, len);
	return fmt == UNTC_XML ? untc_parse_xml(buf, len, err, errlen) :
	    untc_parse_html(buf, len, err, errlen);
}
