/*
 * Dotted paths into a JSON document, as an inbound trigger maps a hook's
 * body to parameters (SPEC section 16): "release.tag_name", "commits.0.id".
 * Bounded by pulse-limits.h's TRIGGER_PATH_* (bytes, segments, digits of
 * an array index). Pure: no database, no allocation.
 */
#ifndef PULSE_TPATH_H
#define PULSE_TPATH_H

struct json_object;

/* NULL if path is well formed, else why not (a static string). */
const char	*tpath_check(const char *path);

/*
 * The value at path (borrowed), or NULL when the document has nothing
 * there (a JSON null counts as nothing: the parameter's default applies). An all-digit segment indexes an array and names a key of an
 * object. path must have passed tpath_check (else NULL).
 */
struct json_object *tpath_get(struct json_object *doc, const char *path);

#endif
