/* A treaty's participants table as parsed from one page: the unit that is checked and committed. */
#ifndef RATD_SNAPSHOT_H
#define RATD_SNAPSHOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "date.h"

/* What a dated cell records (man/ratd.8, DESCRIPTION, Parse). KIND_NONE only with
 * date == DAY_NONE. */
enum kind {
	KIND_NONE = 0,
	KIND_SIGNATURE,
	KIND_RATIFICATION,
	KIND_ACCESSION,
	KIND_SUCCESSION,
	KIND_ACCEPTANCE,
	KIND_APPROVAL,
	KIND_CONFIRMATION,
	KIND_COUNT_
};

/* The kinds each cell may record (man/ratd.8, DESCRIPTION, Parse), as bit masks of
 * 1u << kind. */
#define SNAPSHOT_SIGNATURE_KINDS ((1u << KIND_SIGNATURE) | (1u << KIND_SUCCESSION))
#define SNAPSHOT_INSTRUMENT_KINDS ((1u << KIND_RATIFICATION) | (1u << KIND_ACCESSION) | \
	(1u << KIND_SUCCESSION) | (1u << KIND_ACCEPTANCE) | (1u << KIND_APPROVAL) | \
	(1u << KIND_CONFIRMATION))

struct action {
	day_t date;       /* DAY_NONE when the cell is empty */
	enum kind kind;
};

struct participant {
	char *name;       /* footnotes and brackets removed, whitespace folded */
	bool withdrawn;   /* the page shows the name in square brackets, or its notes say so */
	struct action signature;   /* kind: signature or succession */
	struct action instrument;  /* kind: ratification, accession, ... */
	day_t withdrawal_date;     /* the day its withdrawal took effect, DAY_NONE if unknown */
	bool withdrawal_from_page; /* that date is the page's; else the day ratd first saw it */
	char **notes;              /* the texts of its footnotes, in reference order */
	size_t nnotes;
};

/* Limits that keep a hostile page from costing more than a real one. */
#define SNAPSHOT_MAX_PARTICIPANTS 1000
#define SNAPSHOT_MAX_NAME 200
#define SNAPSHOT_MAX_TEXT 1000
#define SNAPSHOT_MAX_NOTES 8      /* footnote texts kept per participant */
/* Footnote text kept per snapshot: a page whose notes repeat on every row cannot make
 * the snapshot, its state file and its replies megabytes long. */
#define SNAPSHOT_MAX_NOTE_BYTES (64 << 10)

struct snapshot {
	struct participant *v;   /* in page order */
	size_t n;
	int stated_parties;      /* from the page's Status line, -1 when absent */
	int stated_signatories;  /* -1 when absent */
	char *stated_eif;        /* the page's entry-into-force text, NULL when absent */
	day_t stated_eif_date;   /* its leading date ("1 July 2003, ..."), DAY_NONE when none */
	char *status_as_at;      /* RFC 3339 UTC of the page's "STATUS AS AT" stamp, or NULL */
	size_t note_bytes;       /* footnote text kept, at most SNAPSHOT_MAX_NOTE_BYTES */
};

/* "ratification", "accession", ...; "none" for KIND_NONE. */
const char *kind_name(enum kind k);
/* Inverse of kind_name; returns KIND_NONE for an unknown name. */
enum kind kind_from_name(const char *name);

/* Allocates an empty snapshot with unknown stated values; NULL on out-of-memory. */
struct snapshot *snapshot_new(void);
/* Appends a participant, taking a copy of name; 0, or -1 when full or out of memory. */
int snapshot_add(struct snapshot *s, const char *name, bool withdrawn,
    struct action signature, struct action instrument);
/* Appends a footnote text (at most SNAPSHOT_MAX_TEXT bytes, valid UTF-8) to participant
 * i; a note beyond SNAPSHOT_MAX_NOTES, one it already has, or one past the snapshot's
 * SNAPSHOT_MAX_NOTE_BYTES is dropped. 0, or -1 on out-of-memory. */
int snapshot_add_note(struct snapshot *s, size_t i, const char *text);
/* Gives each withdrawn participant of fresh whose page states no date the day ratd first
 * saw it withdrawn: old's date when old already showed it withdrawn, else today. */
void snapshot_date_withdrawals(struct snapshot *fresh, const struct snapshot *old,
    day_t today);
void snapshot_free(struct snapshot *s);
/* Index of the participant of that name, or -1. */
long snapshot_find(const struct snapshot *s, const char *name);
/* The same, trying row hint first: two fetches of one page list their rows in the same
 * order, so comparing them row by row costs one comparison per row, not a search. */
long snapshot_find_at(const struct snapshot *s, const char *name, size_t hint);
/* True when both record the same participants, in the same order, with the same cells
 * and withdrawal dates (footnote texts aside: they are commentary, not the table). */
bool snapshot_same_table(const struct snapshot *a, const struct snapshot *b);
/* A stable 64-bit hash of the table, for recognising the same content across fetches. */
uint64_t snapshot_table_hash(const struct snapshot *s);

/* Writes the JSON form kept in the state file to out; 0, or -1 when the stream failed. */
int snapshot_write_json(FILE *out, const struct snapshot *s);
/* The same form as a jansson value; NULL on out-of-memory. */
json_t *snapshot_to_json(const struct snapshot *s);
/* Validates and converts the JSON form; NULL with a message in err on any defect. */
struct snapshot *snapshot_from_json(const json_t *j, char *err, size_t errlen);

#endif
