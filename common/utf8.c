/* UTF-8 for text that came from outside: cut only between characters, repair what is
 * not UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_seq_len(const unsigned char *s, const unsigned char *end)
{
	size_t n, i;
	unsigned long cp;

	if (s >= end)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

size_t
utf8_cut(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strnlen(s, max + 4);
	size_t at = 0, n;

	/* Only the first max + 4 bytes matter: no character is longer than 4. */
	while (p + at < end) {
		if ((n = utf8_seq_len(p + at, end)) == 0)
			n = 1;
		if (at + n > max)
			break;
		at += n;
	}
	return at;
}

void
utf8_trim_partial(char *s)
{
	size_t len = strlen(s), i = len, back = 0;

	/* Back over the continuation bytes at the end to the byte that leads them. */
	while (i > 0 && back < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--, back++;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xc0 &&
	    utf8_seq_len((const unsigned char *)s + i - 1, (const unsigned char *)s + len) == 0)
		s[i - 1] = '\0';
}

char *
utf8_repair(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	char *out, *o;
	size_t n;

	/* Each bad byte becomes 3: the worst case is three times the input. */
	if (len > ((size_t)-1 - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (o = out; p < end; p += n) {
		if (*p != '\0' && (n = utf8_seq_len(p, end)) > 0) {
			memcpy(o, p, n);
			o += n;
			continue;
		}
		n = 1;
		memcpy(o, "\xef\xbf\xbd", 3);
		o += 3;
	}
	*o = '\0';
	return out;
}
