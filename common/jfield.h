/* Reading fields of JSON replies that may be odd: a missing key, a null and a value of
 * another type all read as absent. Shared by ratctl and the renderers. */
#ifndef RATD_JFIELD_H
#define RATD_JFIELD_H

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

/* The value at key of object o, or NULL (o not an object, or no such key). */
static inline const json_t *
jget(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* The string at key, or NULL when missing, null or of another type. */
static inline const char *
jstr(const json_t *o, const char *key)
{
	const json_t *v = jget(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The integer at key into *out: true, or false when missing or of another type. */
static inline bool
jint(const json_t *o, const char *key, long long *out)
{
	const json_t *v = jget(o, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

/* 1 true, 0 false, -1 missing or not a boolean. */
static inline int
jbool(const json_t *o, const char *key)
{
	const json_t *v = jget(o, key);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* Both strings there and equal. */
static inline bool
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

#endif
