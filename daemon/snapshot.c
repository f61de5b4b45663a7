/* A treaty's participants table: building, comparing, hashing and its JSON form. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "utf8.h"

static const char *const kind_names[KIND_COUNT_] = {
	[KIND_NONE] = "none", [KIND_SIGNATURE] = "signature",
	[KIND_RATIFICATION] = "ratification", [KIND_ACCESSION] = "accession",
	[KIND_SUCCESSION] = "succession", [KIND_ACCEPTANCE] = "acceptance",
	[KIND_APPROVAL] = "approval", [KIND_CONFIRMATION] = "confirmation",
};

const char *
kind_name(enum kind k)
{
	if ((unsigned)k >= KIND_COUNT_)
		return "none";
	return kind_names[k];
}

enum kind
kind_from_name(const char *name)
{
	int k;

	if (name == NULL)
		return KIND_NONE;
	for (k = 0; k < KIND_COUNT_; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return (enum kind)k;
	return KIND_NONE;
}

struct snapshot *
snapshot_new(void)
{
	struct snapshot *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->stated_parties = -1;
	s->stated_signatories = -1;
	s->stated_eif_date = DAY_NONE;
	return s;
}

int
snapshot_add(struct snapshot *s, const char *name, bool withdrawn,
    struct action signature, struct action instrument)
{
	struct participant *v, *p;

	if (s->n >= SNAPSHOT_MAX_PARTICIPANTS || strnlen(name, SNAPSHOT_MAX_NAME + 1) >
	    SNAPSHOT_MAX_NAME)
		return -1;
	/* The array doubles when n reaches a power of two (from 8), so its capacity follows
	 * from n: growing one row at a time copied the table on every add. */
	if (s->n == 0 || (s->n >= 8 && (s->n & (s->n - 1)) == 0)) {
		if ((v = realloc(s->v, (s->n == 0 ? 8 : s->n * 2) * sizeof(*v))) == NULL)
			return -1;
		s->v = v;
	}
	v = s->v;
	p = &v[s->n];
	if ((p->name = strdup(name)) == NULL)
		return -1;
	p->withdrawn = withdrawn;
	p->signature = signature;
	p->instrument = instrument;
	p->withdrawal_date = DAY_NONE;
	p->withdrawal_from_page = false;
	p->notes = NULL;
	p->nnotes = 0;
	s->n++;
	return 0;
}

int
snapshot_add_note(struct snapshot *s, size_t i, const char *text)
{
	struct participant *p = &s->v[i];
	size_t k, len = strlen(text);
	char **v;

	if (p->nnotes >= SNAPSHOT_MAX_NOTES || len > SNAPSHOT_MAX_TEXT ||
	    s->note_bytes + len > SNAPSHOT_MAX_NOTE_BYTES)
		return 0;
	for (k = 0; k < p->nnotes; k++)
		if (strcmp(p->notes[k], text) == 0)
			return 0;
	if ((v = realloc(p->notes, (p->nnotes + 1) * sizeof(*v))) == NULL)
		return -1;
	p->notes = v;
	if ((v[p->nnotes] = strdup(text)) == NULL)
		return -1;
	p->nnotes++;
	s->note_bytes += len;
	return 0;
}

void
snapshot_date_withdrawals(struct snapshot *fresh, const struct snapshot *old, day_t today)
{
	const struct participant *q;
	size_t i;
	long k;

	for (i = 0; i < fresh->n; i++) {
		struct participant *p = &fresh->v[i];

		if (!p->withdrawn || p->withdrawal_from_page)
			continue;
		k = old != NULL ? snapshot_find_at(old, p->name, i) : -1;
		q = k >= 0 ? &old->v[k] : NULL;
		if (q != NULL && q->withdrawn && q->withdrawal_date != DAY_NONE &&
		    !q->withdrawal_from_page)
			p->withdrawal_date = q->withdrawal_date;
		else if (p->withdrawal_date == DAY_NONE)
			p->withdrawal_date = today;
	}
}

static void
snapshot_free_notes(struct participant *p)
{
	size_t k;

	for (k = 0; k < p->nnotes; k++)
		free(p->notes[k]);
	free(p->notes);
}

void
snapshot_free(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		snapshot_free_notes(&s->v[i]);
	}
	free(s->v);
	free(s->stated_eif);
	free(s->status_as_at);
	free(s);
}

long
snapshot_find(const struct snapshot *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return (long)i;
	return -1;
}

long
snapshot_find_at(const struct snapshot *s, const char *name, size_t hint)
{
	if (hint < s->n && strcmp(s->v[hint].name, name) == 0)
		return (long)hint;
	return snapshot_find(s, name);
}

static bool
snapshot_same_action(struct action a, struct action b)
{
	return a.date == b.date && a.kind == b.kind;
}

/* Notes are commentary: the same table with other footnotes is the same table. */
static bool
snapshot_same_withdrawal(const struct participant *p, const struct participant *q)
{
	return p->withdrawal_date == q->withdrawal_date &&
	    p->withdrawal_from_page == q->withdrawal_from_page;
}

bool
snapshot_same_table(const struct snapshot *a, const struct snapshot *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct participant *p = &a->v[i], *q = &b->v[i];

		if (strcmp(p->name, q->name) != 0 || p->withdrawn != q->withdrawn ||
		    !snapshot_same_action(p->signature, q->signature) ||
		    !snapshot_same_action(p->instrument, q->instrument) ||
		    !snapshot_same_withdrawal(p, q))
			return false;
	}
	return true;
}

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

static uint64_t
snapshot_fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len-- > 0) {
		h ^= *p++;
		h *= FNV64_PRIME;
	}
	return h;
}

/* Fixed byte order, so the hash is the same on every host. */
static uint64_t
snapshot_fnv_action(uint64_t h, struct action a)
{
	uint32_t d = (uint32_t)a.date;
	unsigned char b[5] = {
		(unsigned char)d, (unsigned char)(d >> 8), (unsigned char)(d >> 16),
		(unsigned char)(d >> 24), (unsigned char)a.kind,
	};

	return snapshot_fnv(h, b, sizeof(b));
}

uint64_t
snapshot_table_hash(const struct snapshot *s)
{
	uint64_t h = FNV64_OFFSET;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct participant *p = &s->v[i];
		unsigned char w = p->withdrawn;

		/* The NUL ends the name, so "ab","c" and "a","bc" differ. */
		h = snapshot_fnv(h, p->name, strlen(p->name) + 1);
		h = snapshot_fnv(h, &w, 1);
		h = snapshot_fnv_action(h, p->signature);
		h = snapshot_fnv_action(h, p->instrument);
	}
	return h;
}

/* A JSON string: '"', '\\' and control characters escaped as jansson does, a byte that is
 * not part of well-formed UTF-8 written as U+FFFD (one bad name must not make a state
 * file impossible to write). */
static void
snapshot_put_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	size_t n;

	putc('"', out);
	while (p < end) {
		if (*p == '"' || *p == '\\') {
			putc('\\', out);
			putc(*p++, out);
		} else if (*p < 0x20) {
			const char *short_esc = *p == '\b' ? "\\b" : *p == '\f' ? "\\f" :
			    *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : *p == '\t' ? "\\t" : NULL;

			if (short_esc != NULL)
				fputs(short_esc, out);
			else
				fprintf(out, "\\u%04X", *p);
			p++;
		} else if ((n = utf8_seq_len(p, end)) > 0) {
			fwrite(p, 1, n, out);
			p += n;
		} else {
			fputs("\xEF\xBF\xBD", out);
			p++;
		}
	}
	putc('"', out);
}

static void
snapshot_put_text(FILE *out, const char *s)
{
	if (s == NULL)
		fputs("null", out);
	else
		snapshot_put_str(out, s);
}

static void
snapshot_put_date(FILE *out, day_t day)
{
	char iso[DATE_ISO_LEN];

	if (day == DAY_NONE)
		fputs("null", out);
	else
		fprintf(out, "\"%s\"", date_format_iso(day, iso));
}

/* A count the page states, null when it states none (-1). */
static void
snapshot_put_count(FILE *out, int n)
{
	if (n >= 0)
		fprintf(out, "%d", n);
	else
		fputs("null", out);
}

static void
snapshot_put_action(FILE *out, struct action a)
{
	if (a.date == DAY_NONE) {
		fputs("null", out);
		return;
	}
	fputs("{\"date\":", out);
	snapshot_put_date(out, a.date);
	fprintf(out, ",\"kind\":\"%s\"}", kind_name(a.kind));
}

/* Withdrawal date and notes are written only when there are some: older state files and
 * most rows have neither. */
static void
snapshot_put_participant(FILE *out, const struct participant *p)
{
	size_t k;

	fputs("{\"name\":", out);
	snapshot_put_str(out, p->name);
	fprintf(out, ",\"withdrawn\":%s,\"signature\":", p->withdrawn ? "true" : "false");
	snapshot_put_action(out, p->signature);
	fputs(",\"instrument\":", out);
	snapshot_put_action(out, p->instrument);
	if (p->withdrawal_date != DAY_NONE) {
		fputs(",\"withdrawal_date\":", out);
		snapshot_put_date(out, p->withdrawal_date);
		fprintf(out, ",\"withdrawal_from_page\":%s",
		    p->withdrawal_from_page ? "true" : "false");
	}
	if (p->nnotes > 0) {
		fputs(",\"notes\":[", out);
		for (k = 0; k < p->nnotes; k++) {
			if (k > 0)
				putc(',', out);
			snapshot_put_str(out, p->notes[k]);
		}
		putc(']', out);
	}
	putc('}', out);
}

/* Written straight to the stream, not built as a jansson tree first: a state file is
 * written after every fetch, and a tree of some thousand nodes built to be printed once
 * and freed was the largest part of a commit's CPU outside the kernel. */
int
snapshot_write_json(FILE *out, const struct snapshot *s)
{
	size_t i;

	fputs("{\"participants\":[", out);
	for (i = 0; i < s->n; i++) {
		if (i > 0)
			putc(',', out);
		snapshot_put_participant(out, &s->v[i]);
	}
	fputs("],\"stated_parties\":", out);
	snapshot_put_count(out, s->stated_parties);
	fputs(",\"stated_signatories\":", out);
	snapshot_put_count(out, s->stated_signatories);
	fputs(",\"stated_eif\":", out);
	snapshot_put_text(out, s->stated_eif);
	fputs(",\"stated_eif_date\":", out);
	snapshot_put_date(out, s->stated_eif_date);
	fputs(",\"status_as_at\":", out);
	snapshot_put_text(out, s->status_as_at);
	putc('}', out);
	return ferror(out) ? -1 : 0;
}

json_t *
snapshot_to_json(const struct snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (f == NULL)
		return NULL;
	rc = snapshot_write_json(f, s);
	if (fclose(f) == 0 && rc == 0)
		j = json_loadb(text, len, 0, NULL);
	free(text);
	return j;
}

/* Writes "WHERE: what" into err; always returns -1 for the caller to pass on. */
static int
snapshot_err(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (errlen > 0)
		snprintf(err, errlen, "%s: %s", where, what);
	return -1;
}

/* Rejects any key outside the NULL-terminated list: the form is ours, so extras are damage. */
static int
snapshot_only_keys(const json_t *o, const char *const keys[], const char *where,
    char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (keys[i] == NULL)
			return snapshot_err(err, errlen, where, "unknown key \"%.*s\"",
			    (int)utf8_cut(key, 40), key);
	}
	return 0;
}

static int
snapshot_date_from_json(const json_t *v, day_t *out, const char *where, char *err,
    size_t errlen)
{
	if (!json_is_string(v) || date_parse_iso(json_string_value(v), out) == -1)
		return snapshot_err(err, errlen, where, "not a YYYY-MM-DD date");
	return 0;
}

static int
snapshot_action_from_json(const json_t *v, unsigned kinds, struct action *out,
    const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "date", "kind", NULL };
	char at[128];
	const json_t *kv;
	enum kind k;

	out->date = DAY_NONE;
	out->kind = KIND_NONE;
	if (v == NULL)
		return snapshot_err(err, errlen, where, "missing");
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return snapshot_err(err, errlen, where, "not an object or null");
	if (snapshot_only_keys(v, keys, where, err, errlen) == -1)
		return -1;
	snprintf(at, sizeof(at), "%s.date", where);
	if (snapshot_date_from_json(json_object_get(v, "date"), &out->date, at, err,
	    errlen) == -1)
		return -1;
	snprintf(at, sizeof(at), "%s.kind", where);
	kv = json_object_get(v, "kind");
	if (!json_is_string(kv))
		return snapshot_err(err, errlen, at, "not a string");
	k = kind_from_name(json_string_value(kv));
	if (k == KIND_NONE || (kinds & (1u << k)) == 0)
		return snapshot_err(err, errlen, at, "\"%.*s\" is not a kind this cell records",
		    (int)utf8_cut(json_string_value(kv), 40), json_string_value(kv));
	out->kind = k;
	return 0;
}

/* The optional withdrawal date and notes of the participant just added. */
static int
snapshot_extra_from_json(struct snapshot *s, const json_t *v, const char *where,
    char *err, size_t errlen)
{
	struct participant *p = &s->v[s->n - 1];
	const json_t *wd = json_object_get(v, "withdrawal_date"), *notes, *t;
	const json_t *fp = json_object_get(v, "withdrawal_from_page");
	char at[96];
	size_t k;

	snprintf(at, sizeof(at), "%s.withdrawal_date", where);
	if (wd != NULL && !json_is_null(wd) &&
	    snapshot_date_from_json(wd, &p->withdrawal_date, at, err, errlen) == -1)
		return -1;
	snprintf(at, sizeof(at), "%s.withdrawal_from_page", where);
	if (fp != NULL && !json_is_boolean(fp))
		return snapshot_err(err, errlen, at, "not a boolean");
	p->withdrawal_from_page = json_is_true(fp) && p->withdrawal_date != DAY_NONE;
	notes = json_object_get(v, "notes");
	snprintf(at, sizeof(at), "%s.notes", where);
	if (notes == NULL)
		return 0;
	if (!json_is_array(notes) || json_array_size(notes) > SNAPSHOT_MAX_NOTES)
		return snapshot_err(err, errlen, at, "not an array of at most %d texts",
		    SNAPSHOT_MAX_NOTES);
	json_array_foreach(notes, k, t) {
		if (!json_is_string(t) || json_string_length(t) > SNAPSHOT_MAX_TEXT ||
		    strlen(json_string_value(t)) != json_string_length(t))
			return snapshot_err(err, errlen, at, "a note is not a string of at "
			    "most %d bytes", SNAPSHOT_MAX_TEXT);
		if (snapshot_add_note(s, s->n - 1, json_string_value(t)) == -1)
			return snapshot_err(err, errlen, at, "out of memory");
	}
	return 0;
}

static int
snapshot_participant_from_json(struct snapshot *s, const json_t *v, size_t i,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "withdrawn", "signature", "instrument",
	    "withdrawal_date", "withdrawal_from_page", "notes", NULL };
	struct action sig, ins;
	char where[64], at[96];
	const json_t *name, *wd;

	snprintf(where, sizeof(where), "participants[%zu]", i);
	if (!json_is_object(v))
		return snapshot_err(err, errlen, where, "not an object");
	if (snapshot_only_keys(v, keys, where, err, errlen) == -1)
		return -1;
	name = json_object_get(v, "name");
	snprintf(at, sizeof(at), "%s.name", where);
	if (!json_is_string(name))
		return snapshot_err(err, errlen, at, "not a string");
	if (json_string_length(name) == 0 || json_string_length(name) > SNAPSHOT_MAX_NAME ||
	    strlen(json_string_value(name)) != json_string_length(name))
		return snapshot_err(err, errlen, at, "empty, longer than %d bytes or with NUL",
		    SNAPSHOT_MAX_NAME);
	if (snapshot_find(s, json_string_value(name)) != -1)
		return snapshot_err(err, errlen, at, "\"%s\" appears twice",
		    json_string_value(name));
	wd = json_object_get(v, "withdrawn");
	snprintf(at, sizeof(at), "%s.withdrawn", where);
	if (!json_is_boolean(wd))
		return snapshot_err(err, errlen, at, "not a boolean");
	snprintf(at, sizeof(at), "%s.signature", where);
	if (snapshot_action_from_json(json_object_get(v, "signature"),
	    SNAPSHOT_SIGNATURE_KINDS, &sig, at, err, errlen) == -1)
		return -1;
	snprintf(at, sizeof(at), "%s.instrument", where);
	if (snapshot_action_from_json(json_object_get(v, "instrument"),
	    SNAPSHOT_INSTRUMENT_KINDS, &ins, at, err, errlen) == -1)
		return -1;
	if (snapshot_add(s, json_string_value(name), json_is_true(wd), sig, ins) == -1)
		return snapshot_err(err, errlen, where, "out of memory");
	return snapshot_extra_from_json(s, v, where, err, errlen);
}

/* An absent key reads as null: the page did not state the value. */
static int
snapshot_count_from_json(const json_t *o, const char *key, int *out, char *err,
    size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > INT_MAX)
		return snapshot_err(err, errlen, key, "not a count or null");
	*out = (int)json_integer_value(v);
	return 0;
}

static int
snapshot_text_from_json(const json_t *o, const char *key, char **out, char *err,
    size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > SNAPSHOT_MAX_TEXT ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return snapshot_err(err, errlen, key, "not a string of at most %d bytes or null",
		    SNAPSHOT_MAX_TEXT);
	if ((*out = strdup(json_string_value(v))) == NULL)
		return snapshot_err(err, errlen, key, "out of memory");
	return 0;
}

static int
snapshot_stated_from_json(struct snapshot *s, const json_t *j, char *err, size_t errlen)
{
	const json_t *v;
	time_t t;

	if (snapshot_count_from_json(j, "stated_parties", &s->stated_parties, err,
	    errlen) == -1 ||
	    snapshot_count_from_json(j, "stated_signatories", &s->stated_signatories, err,
	    errlen) == -1 ||
	    snapshot_text_from_json(j, "stated_eif", &s->stated_eif, err, errlen) == -1 ||
	    snapshot_text_from_json(j, "status_as_at", &s->status_as_at, err, errlen) == -1)
		return -1;
	if (s->status_as_at != NULL && date_parse_time(s->status_as_at, &t) == -1)
		return snapshot_err(err, errlen, "status_as_at", "not a YYYY-MM-DDTHH:MM:SSZ time");
	v = json_object_get(j, "stated_eif_date");
	if (v != NULL && !json_is_null(v) &&
	    snapshot_date_from_json(v, &s->stated_eif_date, "stated_eif_date", err,
	    errlen) == -1)
		return -1;
	return 0;
}

struct snapshot *
snapshot_from_json(const json_t *j, char *err, size_t errlen)
{
	static const char *const keys[] = { "participants", "stated_parties",
	    "stated_signatories", "stated_eif", "stated_eif_date", "status_as_at", NULL };
	struct snapshot *s;
	const json_t *a;
	size_t i;

	if (!json_is_object(j)) {
		snapshot_err(err, errlen, "snapshot", "not an object");
		return NULL;
	}
	if (snapshot_only_keys(j, keys, "snapshot", err, errlen) == -1)
		return NULL;
	a = json_object_get(j, "participants");
	if (!json_is_array(a)) {
		snapshot_err(err, errlen, "participants", "missing or not an array");
		return NULL;
	}
	if (json_array_size(a) > SNAPSHOT_MAX_PARTICIPANTS) {
		snapshot_err(err, errlen, "participants", "more than %d",
		    SNAPSHOT_MAX_PARTICIPANTS);
		return NULL;
	}
	if ((s = snapshot_new()) == NULL) {
		snapshot_err(err, errlen, "snapshot", "out of memory");
		return NULL;
	}
	for (i = 0; i < json_array_size(a); i++)
		if (snapshot_participant_from_json(s, json_array_get(a, i), i, err,
		    errlen) == -1)
			goto fail;
	if (snapshot_stated_from_json(s, j, err, errlen) == -1)
		goto fail;
	return s;
fail:
	snapshot_free(s);
	return NULL;
}
