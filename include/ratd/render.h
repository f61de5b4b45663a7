/* Human output of control-socket replies, shared by ratctl and `ratd --once`. */
#ifndef RATD_RENDER_H
#define RATD_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* result: the "result" object of a status reply ({"treaties": [TreatyStatus...]}). */
void render_status(FILE *out, const json_t *result, bool color);
/* result: the "result" object of a parties reply. */
void render_parties(FILE *out, const json_t *result, bool color);
/* result: the "result" object of a refresh reply. */
void render_refresh(FILE *out, const json_t *result, bool color);
/* result: the "result" object of a history reply; one line per event. */
void render_history(FILE *out, const json_t *result, bool color);
/* One event as the line "#ID TIME TREATY TYPE summary" (history and watch). */
void render_event(FILE *out, const json_t *event, bool color);
/* Writes s (NULL as "-") with control characters as '?': network text must not drive a terminal. */
void render_text(FILE *out, const char *s);

#endif
