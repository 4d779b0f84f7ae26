/*
 * Inside params.c and params-value.c (one noun each: the declarations, the
 * values): the parsed declaration and the checks both use. Nothing else
 * includes this. It does not include params.h (an include cycle): its
 * users include params.h first.
 */
#ifndef PULSE_PARAMS_INT_H
#define PULSE_PARAMS_INT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pulse-limits.h"

struct json_object;

/* Longest pattern quoted back in a message. */
#define PATTERN_QUOTE	80

struct param {
	char		 name[PULSE_PARAM_NAME_MAX + 1];
	enum param_type	 type;
	int		 required;
	struct json_object *def;	/* normalised, or NULL */
	/* string */
	char		*pattern;	/* as written, or NULL */
	regex_t		 re;
	size_t		 max_length;
	/* integer, number */
	int		 has_min, has_max;
	int64_t		 imin, imax;
	double		 dmin, dmax;
	/* choice */
	char		**options;
	size_t		 noptions;
};

struct params {
	struct param	*v;
	size_t		 n;
};
/* A parameter name: [A-Za-z_][A-Za-z0-9_]{0,63}. */
int	params_is_ident(const char *s, size_t len);
/* s (len bytes) is valid UTF-8. */
int	params_utf8_ok(const char *s, size_t len);
/*
 * Check v against p; on success *norm is a new normalised value. On
 * failure the reason (without the field) in why.
 */
int	params_value_check(const struct param *p, struct json_object *v,
	    struct json_object **norm, char *why, size_t whylen);

#endif
