/*
 * JSON helpers over json-c: parsing with a depth limit that rejects
 * trailing garbage, and typed getters that never coerce ("x" is not 0).
 */
#ifndef PULSE_PJSON_H
#define PULSE_PJSON_H

#include <stddef.h>
#include <json-c/json.h>

/*
 * Parse exactly len bytes of strict UTF-8; NULL and a message naming the
 * offset on error. A document that is only JSON null is an error too.
 */
struct json_object *pjson_parse(const char *buf, size_t len, int depth,
		    char *err, size_t errlen);

/*
 * Typed getters for a member of an object. Return 1 if present with the
 * right type, 0 if absent (or JSON null when allow_null), -1 if present
 * with the wrong type.
 */
int	pjson_get_string(struct json_object *, const char *key,
	    const char **out, size_t *len);
int	pjson_get_int(struct json_object *, const char *key, long long *out);
int	pjson_get_bool(struct json_object *, const char *key, int *out);
int	pjson_get_object(struct json_object *, const char *key,
	    struct json_object **out);
int	pjson_get_array(struct json_object *, const char *key,
	    struct json_object **out);

/* Serialize compactly; the string is owned by the object. */
const char *pjson_str(struct json_object *, size_t *len);

/* Constructors that accept NULL (giving JSON null). */
struct json_object *pjson_string_or_null(const char *);
struct json_object *pjson_stringn(const char *, size_t);

/* Bytes that may not be UTF-8 (command output) as a JSON string; invalid
 * sequences become U+FFFD so the document stays valid. */
struct json_object *pjson_text(const char *, size_t);

/* The characters (code points) in len bytes of UTF-8: 0 and *chars, or
 * -1 if the bytes are not valid UTF-8. */
int	pjson_utf8_count(const char *, size_t len, size_t *chars);

/*
 * A name bound for a VARCHAR(n) column of a utf8mb4 table, which MariaDB
 * counts in characters: valid UTF-8 of at most maxchars code points (so
 * at most UTF8_BYTES(maxchars) bytes, checked first). 0, or -1 with the
 * reason to append to the field's name in why ("is not valid UTF-8",
 * "is longer than 255 characters (300)").
 */
int	pjson_check_name(const char *, size_t len, size_t maxchars,
	    char *why, size_t whylen);

/* How many bytes of the UTF-8 string s to quote so that at most max are
 * shown and no character is cut in two (a cut one is invalid UTF-8). */
size_t	pjson_utf8_prefix(const char *s, size_t max);
/*
 * Drop an incomplete UTF-8 sequence at the end of s, as snprintf leaves
 * when it cuts text: a column in utf8mb4 refuses the whole write (1366).
 */
void	pjson_utf8_trim(char *s);

/*
 * A value serialized as the given text, verbatim: for JSON the database
 * has already checked (a JSON column's CHECK (json_valid(...))), so a
 * reply embeds it without parsing it into objects and printing them
 * again. Only for output; NULL text gives JSON null.
 */
struct json_object *pjson_raw(const char *, size_t);

/* A SQL "YYYY-MM-DD HH:MM:SS[.fff]" UTC time as ISO-8601 "...T...Z", or
 * JSON null for NULL. */
struct json_object *pjson_time(const char *);
/* The same text into out: 0, or -1 for NULL or a value too short. */
#define PJSON_TIME_LEN	24	/* "YYYY-MM-DDTHH:MM:SS.fffZ" */
int	pjson_time_text(const char *, char out[PJSON_TIME_LEN + 1]);

#endif
