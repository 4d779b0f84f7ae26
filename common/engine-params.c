/*
 * A workflow's parameters and allowed_groups inside the engine (SPEC.md
 * section 14): who may start it or answer its prompts, a start's values
 * resolved before anything is created, and the templates and env of a
 * step as it begins. Part of the engine (engine-int.h).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine-int.h"
#include "params.h"
#include "pjson.h"
#include "template.h"
#include "wkey.h"
#include "workflow.h"
#include "xmalloc.h"

int
engine_caller_check(const struct workflow *wf, const struct call *c,
    const char *what)
{
	const struct engine_caller	*who = c->caller;
	char				 names[256];
	size_t				 i, j, o = 0;
	int				 n;

	if (who == NULL || who->admin || wf->nallowed_groups == 0)
		return 0;
	for (i = 0; i < wf->nallowed_groups; i++)
		for (j = 0; j < who->ngroups; j++)
			if (strcmp(wf->allowed_groups[i], who->groups[j]) == 0)
				return 0;
	names[0] = '\0';
	for (i = 0; i < wf->nallowed_groups && o < sizeof(names); i++) {
		n = snprintf(names + o, sizeof(names) - o, "%s%s",
		    i ? ", " : "", wf->allowed_groups[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	pjson_utf8_trim(names);
	engine_fail(c->err, ENGINE_FORBIDDEN, "only members of %s may %s "
	    "this workflow", names, what);
	snprintf(c->err->field, sizeof(c->err->field), "allowed_groups");
	return -1;
}

int
engine_params_resolve(const struct workflow *wf, struct call *c)
{
	struct fielderr	 ferr;

	if (c->params != NULL &&
	    !json_object_is_type(c->params, json_type_object)) {
		engine_fail(c->err, ENGINE_INVALID, "params must be an object");
		snprintf(c->err->field, sizeof(c->err->field), "params");
		return -1;
	}
	if (params_resolve(wf->params, c->params, &c->resolved, &ferr) == -1) {
		engine_fail(c->err, ENGINE_INVALID, "%s", ferr.msg);
		snprintf(c->err->field, sizeof(c->err->field), "%s",
		    ferr.field);
		return -1;
	}
	/* A workflow without values stores NULL, as before parameters. */
	if (c->resolved != NULL && json_object_object_length(c->resolved) == 0) {
		json_object_put(c->resolved);
		c->resolved = NULL;
	}
	return 0;
}

void
engine_params_request(const struct call *c, char *buf, size_t len)
{
	char	 hash[WKEY_HASH_LEN + 1];

	if (c->resolved == NULL) {
		snprintf(buf, len, "%s", c->workflow_id);
		return;
	}
	/* The resolved values are in declaration order: one text each. */
	wkey_hash(pjson_str(c->resolved, NULL), hash);
	snprintf(buf, len, "%s %s", c->workflow_id, hash);
}

struct json_object *
engine_params_names(const struct call *c)
{
	struct json_object		*a = json_object_new_array();
	struct json_object_iterator	 it, end;

	if (c->resolved == NULL)
		return a;
	it = json_object_iter_begin(c->resolved);
	end = json_object_iter_end(c->resolved);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		json_object_array_add(a,
		    json_object_new_string(json_object_iter_peek_name(&it)));
	return a;
}

int
engine_expand(const struct exec *ex, const char *src, size_t max,
    char **out, char *why, size_t whylen)
{
	struct template_err	 terr;
	size_t			 len;

	if (!ex->wf->templates) {
		*out = xstrdup(src);
		return 0;
	}
	if (template_expand(src, strlen(src), ex->params, ex->id,
	    ex->started_by != NULL ? ex->started_by : "", max, out, &len,
	    &terr) == -1) {
		snprintf(why, whylen, "the template at byte %zu cannot be "
		    "expanded: %s", terr.off, terr.msg);
		pjson_utf8_trim(why);
		return -1;
	}
	return 0;
}

int
engine_env(const struct exec *ex, char **out, char *why, size_t whylen)
{
	struct json_object	*env;
	struct fielderr		 ferr;

	*out = NULL;
	if (ex->params == NULL ||
	    json_object_object_length(ex->params) == 0)
		return 0;
	if (params_env(ex->params, &env, &ferr) == -1) {
		snprintf(why, whylen, "the parameters cannot be passed in the "
		    "environment: %s", ferr.msg);
		pjson_utf8_trim(why);
		return -1;
	}
	*out = xstrdup(pjson_str(env, NULL));
	json_object_put(env);
	return 0;
}
