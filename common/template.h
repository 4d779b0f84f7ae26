/*
 * Templates in an execute step's command and a prompt's message (SPEC.md
 * section 14): {{ params.NAME }}, {{ execution.id }} and
 * {{ execution.started_by }}, spaces inside the braces optional. There is
 * no escape: any "{{" starts one. Checked when a workflow is saved,
 * expanded once when the step begins, each value single-quoted for sh.
 */
#ifndef PULSE_TEMPLATE_H
#define PULSE_TEMPLATE_H

#include <stddef.h>

struct json_object;
struct params;

struct template_err {
	size_t	off;		/* byte offset of the "{{" at fault */
	char	msg[200];	/* "unknown parameter 'x'", valid UTF-8 */
};

/*
 * Check src (len bytes) at save: every "{{" closed by "}}" within
 * PULSE_TEMPLATE_EXPR_MAX bytes, not empty, naming a declared parameter
 * of ps (NULL: none declared) or execution.id / execution.started_by;
 * with TEMPLATE_SH (an execute step's command) also template_sh_check().
 * 0, or -1 with the first problem in err. The caller puts the step and
 * field in front ("steps[2].command: at byte 14: unknown parameter 'x'").
 */
#define TEMPLATE_SH	0x1	/* src is a sh command: template_sh_check() */
int	template_check(const char *src, size_t len, const struct params *ps,
	    int flags, struct template_err *err);

/*
 * Whether every template of a sh command sits where its single-quoted
 * value stays one literal word: in a plain word, not inside '...', "...",
 * `...`, $((...)), a here-document or a comment, nor right after a
 * backslash or a '$' (template-sh.c says why). 0, or -1 with err.
 */
int	template_sh_check(const char *src, size_t len,
	    struct template_err *err);

/*
 * Expand src: each template replaced by its value single-quoted for sh
 * (template_quote), a parameter absent from resolved by ''. The result,
 * NUL-terminated, is at most max bytes (the terminator not counted):
 * 0 with *out (free it) and *outlen, or -1 with err filled (a template
 * that does not check, or a result past max).
 */
int	template_expand(const char *src, size_t len,
	    struct json_object *resolved, const char *execution_id,
	    const char *started_by, size_t max, char **out, size_t *outlen,
	    struct template_err *err);

/*
 * s (len bytes) as one sh word: in single quotes, each ' written '\''.
 * Writes to dst when it is not NULL (no terminator) and returns the
 * length either way, so a caller sizes first, then writes.
 */
size_t	template_quote(char *dst, const char *s, size_t len);

#endif
