/*
 * The workflow key `notify` (SPEC section 16): which channels hear of which
 * events of its executions. Only the shape is checked here; that each
 * channel exists is the saving API's check (it needs the database).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static int
rule_keys(struct wf_check *ck, struct json_object *rule, size_t i)
{
	struct json_object_iterator	 it, end;
	const char			*key;
	char				 field[WF_FIELD_QUOTE + 1];

	it = json_object_iter_begin(rule);
	end = json_object_iter_end(rule);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if (strcmp(key, "channel") == 0 || strcmp(key, "on") == 0)
			continue;
		wf_clip(field, sizeof(field), key, WF_QUOTE_MAX);
		return wf_fail(ck, "notify", "notify[%zu]: unknown field '%s' "
		    "(allowed: \"channel\", \"on\")", i, field);
	}
	return 0;
}

static int
rule_on(struct wf_check *ck, struct json_object *rule, size_t i,
    unsigned *mask)
{
	struct json_object	*on, *v;
	enum notify_event	 ev;
	char			 field[48], q[WF_QUOTE_MAX + 4];
	size_t			 j, n;

	snprintf(field, sizeof(field), "notify[%zu].on", i);
	if (!json_object_object_get_ex(rule, "on", &on) ||
	    !json_object_is_type(on, json_type_array) ||
	    (n = json_object_array_length(on)) == 0)
		return wf_fail(ck, field, "%s: must be a non-empty array of "
		    "events (failed, completed, prompt, approval)", field);
	if (n > NOTIFY_EVENT_COUNT)
		return wf_fail(ck, field, "%s: at most %d events", field,
		    NOTIFY_EVENT_COUNT);
	*mask = 0;
	for (j = 0; j < n; j++) {
		v = json_object_array_get_idx(on, j);
		snprintf(field, sizeof(field), "notify[%zu].on[%zu]", i, j);
		if (!json_object_is_type(v, json_type_string))
			return wf_fail(ck, field, "%s: must be a string", field);
		if (notify_event_from(json_object_get_string(v), &ev) == -1) {
			wf_clip(q, sizeof(q), json_object_get_string(v),
			    WF_QUOTE_MAX);
			return wf_fail(ck, field, "%s: unknown event '%s' "
			    "(allowed: failed, completed, prompt, approval)",
			    field, q);
		}
		if (*mask & (1u << ev))
			return wf_fail(ck, field, "%s: '%s' is listed twice",
			    field, notify_event_name(ev));
		*mask |= 1u << ev;
	}
	return 0;
}

static int
rule_read(struct wf_check *ck, struct json_object *rule, size_t i,
    struct wf_notify *out)
{
	struct json_object	*ch;
	char			 field[48], why[64];
	const char		*s;
	size_t			 len;

	snprintf(field, sizeof(field), "notify[%zu]", i);
	if (!json_object_is_type(rule, json_type_object))
		return wf_fail(ck, field, "%s: must be an object "
		    "{\"channel\", \"on\"}", field);
	if (rule_keys(ck, rule, i) == -1)
		return -1;
	snprintf(field, sizeof(field), "notify[%zu].channel", i);
	if (!json_object_object_get_ex(rule, "channel", &ch) ||
	    !json_object_is_type(ch, json_type_string))
		return wf_fail(ck, field, "%s: must be a channel's name or id",
		    field);
	s = json_object_get_string(ch);
	len = (size_t)json_object_get_string_len(ch);
	if (len == 0)
		return wf_fail(ck, field, "%s: must not be empty", field);
	if (pjson_check_name(s, len, NAME_CHARS, why, sizeof(why)) == -1)
		return wf_fail(ck, field, "%s: %s", field, why);
	if (rule_on(ck, rule, i, &out->on) == -1)
		return -1;
	out->channel = xstrdup(s);
	return 0;
}

int
workflow_notify_read(struct wf_check *ck, struct json_object *def,
    struct workflow *wf)
{
	struct json_object	*v;
	size_t			 i, n;

	if (!json_object_object_get_ex(def, "notify", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return wf_fail(ck, "notify", "notify: must be an array of "
		    "{\"channel\", \"on\"}");
	n = json_object_array_length(v);
	if (n > NOTIFY_RULES_MAX)
		return wf_fail(ck, "notify", "notify: at most %d rules",
		    NOTIFY_RULES_MAX);
	wf->notify = xcalloc(n ? n : 1, sizeof(*wf->notify));
	for (i = 0; i < n; i++) {
		if (rule_read(ck, json_object_array_get_idx(v, i), i,
		    &wf->notify[i]) == -1)
			return -1;
		wf->nnotify++;
	}
	return 0;
}

void
workflow_notify_free(struct workflow *wf)
{
	size_t	 i;

	for (i = 0; i < wf->nnotify; i++)
		free(wf->notify[i].channel);
	free(wf->notify);
	wf->notify = NULL;
	wf->nnotify = 0;
}
