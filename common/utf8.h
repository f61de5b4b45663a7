/* UTF-8 for text that came from outside: cut only between characters, repair what is
 * not UTF-8. */
#ifndef RATD_UTF8_H
#define RATD_UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or
 * code points past U+10FFFF), reading no further than end; 0 when there is none. */
size_t utf8_seq_len(const unsigned char *s, const unsigned char *end);

/* How many bytes of NUL-terminated s to keep to show at most max bytes without cutting
 * a character in two: strlen(s) when it fits, else the largest character boundary at
 * or below max. A byte that is not part of a well-formed sequence counts as one
 * character. For printf: "%.*s", (int)utf8_cut(s, 60), s. */
size_t utf8_cut(const char *s, size_t max);

/* Drops the incomplete character that ends s when snprintf cut it there. */
void utf8_trim_partial(char *s);

/* A malloc'd copy of the len bytes at s with every byte that is not part of a
 * well-formed sequence (and every NUL) replaced by U+FFFD; NULL on out-of-memory. */
char *utf8_repair(const char *s, size_t len);

#endif
