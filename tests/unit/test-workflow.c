/*
 * Workflow definitions (common/workflow.c): the SPEC.md examples load as
 * written, and every field's missing, mistyped, too long, too many and
 * unknown cases are refused with the step, the field and the message a
 * user would see.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "engine-int.h"
#include "pulse-limits.h"
#include "test.h"
#include "notify.h"
#include "params.h"
#include "workflow.h"

/* JSON written with ` for " so the definitions below stay readable. */
static struct json_object *
J(const char *s)
{
	struct json_object	*o;
	char			*buf, *p;

	if ((buf = strdup(s)) == NULL)
		abort();
	for (p = buf; *p != '\0'; p++)
		if (*p == '`')
			*p = '"';
	o = json_tokener_parse(buf);
	free(buf);
	if (o == NULL) {
		printf("Bail out! test JSON does not parse: %s\n", s);
		exit(1);
	}
	return o;
}

/* A definition with one step. */
static struct json_object *
one(const char *step)
{
	char	 buf[4096];

	snprintf(buf, sizeof(buf), "{`steps`:[%s]}", step);
	return J(buf);
}

#define EXEC	"{`name`:`A`,`type`:`execute`,`targets`:[`all`]," \
		"`command`:`true`"
#define PROMPT	"{`name`:`P`,`type`:`prompt`,`message`:`Go?`," \
		"`options`:[`Yes`,`No`]"
#define WAIT	"{`name`:`W`,`type`:`wait`,`duration`:5"

static struct json_object *
step_of(struct json_object *def, int i)
{
	struct json_object	*steps;

	json_object_object_get_ex(def, "steps", &steps);
	return json_object_array_get_idx(steps, (size_t)i);
}

/* Set member key of step i to a string of len copies of c. */
static struct json_object *
set_str(struct json_object *def, int i, const char *key, size_t len, char c)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memset(s, c, len);
	s[len] = '\0';
	json_object_object_add(step_of(def, i), key,
	    json_object_new_string_len(s, (int)len));
	free(s);
	return def;
}

/* Set member key of step i to n copies of the UTF-8 character ch. */
static struct json_object *
set_chars(struct json_object *def, int i, const char *key, size_t n,
    const char *ch)
{
	size_t	 k, w = strlen(ch);
	char	*s;

	if ((s = malloc(n * w + 1)) == NULL)
		abort();
	for (k = 0; k < n; k++)
		memcpy(s + k * w, ch, w);
	s[n * w] = '\0';
	json_object_object_add(step_of(def, i), key,
	    json_object_new_string_len(s, (int)(n * w)));
	free(s);
	return def;
}

/* Set member key of step i to one array of n copies of the string s. */
static struct json_object *
set_list(struct json_object *def, int i, const char *key, size_t n,
    const char *s)
{
	struct json_object	*a = json_object_new_array();
	size_t			 k;

	for (k = 0; k < n; k++)
		json_object_array_add(a, json_object_new_string(s));
	json_object_object_add(step_of(def, i), key, a);
	return def;
}

/* n copies of the UTF-8 character ch, as a new string. */
static char *
chars(size_t n, const char *ch)
{
	size_t	 k, w = strlen(ch);
	char	*s;

	if ((s = malloc(n * w + 1)) == NULL)
		abort();
	for (k = 0; k < n; k++)
		memcpy(s + k * w, ch, w);
	s[n * w] = '\0';
	return s;
}

/* Set member key of step i to n distinct strings of len bytes. */
static struct json_object *
set_items(struct json_object *def, int i, const char *key, size_t n,
    size_t len)
{
	struct json_object	*a = json_object_new_array();
	char			*s;
	size_t			 k;

	if ((s = malloc(len + 16)) == NULL)
		abort();
	for (k = 0; k < n; k++) {
		memset(s, 'x', len);
		snprintf(s, len + 1, "%05zu", k);
		s[strlen(s)] = len > 5 ? 'x' : '\0';
		json_object_array_add(a, json_object_new_string_len(s,
		    (int)len));
	}
	free(s);
	json_object_object_add(step_of(def, i), key, a);
	return def;
}

/* A definition of n copies of step. */
static struct json_object *
many(const char *step, size_t n)
{
	struct json_object	*def = json_object_new_object();
	struct json_object	*steps = json_object_new_array();
	size_t			 i;

	for (i = 0; i < n; i++)
		json_object_array_add(steps, J(step));
	json_object_object_add(def, "steps", steps);
	return def;
}

/* Loads; the caller frees *wf. Takes def. */
static int
good(struct json_object *def, struct workflow **wf)
{
	struct workflow_error	 err;
	int			 rc;

	rc = workflow_from_json(def, wf, &err);
	json_object_put(def);
	if (rc != 0) {
		printf("# refused: step %d, %s: %s\n", err.step, err.field,
		    err.msg);
		return 0;
	}
	return *wf != NULL && err.step == -1 && err.field[0] == '\0' &&
	    err.msg[0] == '\0';
}

static int
loads(struct json_object *def)
{
	struct workflow	*wf = NULL;
	int		 ok;

	ok = good(def, &wf);
	workflow_free(wf);
	return ok;
}

/* Refused with exactly this step, field and message. Takes def. */
static int
bad(struct json_object *def, int step, const char *field, const char *msg)
{
	struct workflow_error	 err;
	struct workflow		*wf = NULL;
	int			 rc;

	rc = workflow_from_json(def, &wf, &err);
	json_object_put(def);
	if (rc == 0) {
		workflow_free(wf);
		printf("# accepted, expected: %s\n", msg);
		return 0;
	}
	if (wf != NULL || err.step != step || strcmp(err.field, field) != 0 ||
	    strcmp(err.msg, msg) != 0) {
		printf("# got step %d, field '%s', msg '%s'\n", err.step,
		    err.field, err.msg);
		return 0;
	}
	return 1;
}

static int
cond_true(const struct step *st, const char *ctx_json)
{
	struct json_object	*ctx = J(ctx_json);
	char			 err[200];
	int			 r = -1;

	if (st->cond == NULL || cond_eval(st->cond, ctx, &r, err,
	    sizeof(err)) == -1)
		r = -1;
	json_object_put(ctx);
	return r == 1;
}

static void
test_spec_examples(void)
{
	struct workflow	*wf = NULL;
	struct step	*s;

	test_cond("SPEC: upgrade workflow loads", good(J("{ `steps`: ["
	    "{ `name`: `Update package list`, `type`: `execute`, "
	    "`targets`: [`all`], `command`: `apt update`, `timeout`: 600000 },"
	    "{ `name`: `User approval`, `type`: `prompt`, `message`: "
	    "`Packages updated. Proceed with upgrade?`, "
	    "`options`: [`Yes`, `No`] },"
	    "{ `name`: `Upgrade packages`, `type`: `execute`, "
	    "`targets`: [`all`], `command`: `apt upgrade -y`, "
	    "`condition`: `promptResponse === 'Yes'` },"
	    "{ `name`: `Wait for services`, `type`: `wait`, "
	    "`duration`: 10000 } ]}"), &wf));
	if (wf == NULL)
		return;
	s = wf->steps;
	test_cond("four steps", wf->nsteps == 4);
	test_cond("step 1 is execute", s[0].type == STEP_EXECUTE &&
	    strcmp(s[0].name, "Update package list") == 0);
	test_cond("step 1 targets", s[0].ntargets == 1 &&
	    strcmp(s[0].targets[0], "all") == 0);
	test_cond("step 1 command", strcmp(s[0].command, "apt update") == 0);
	test_cond("step 1 timeout", s[0].timeout_ms == 600000);
	test_cond("step 1 has no condition", s[0].condition == NULL &&
	    s[0].cond == NULL);
	test_cond("step 2 is a prompt", s[1].type == STEP_PROMPT &&
	    strcmp(s[1].message, "Packages updated. Proceed with upgrade?")
	    == 0);
	test_cond("step 2 options", s[1].noptions == 2 &&
	    strcmp(s[1].options[0], "Yes") == 0 &&
	    strcmp(s[1].options[1], "No") == 0);
	test_cond("step 3 default timeout",
	    s[2].timeout_ms == WF_TIMEOUT_DEFAULT);
	test_cond("step 3 condition source", s[2].condition != NULL &&
	    strcmp(s[2].condition, "promptResponse === 'Yes'") == 0);
	test_cond("step 3 condition is parsed and runs",
	    cond_true(&s[2], "{`promptResponse`:`Yes`,`state`:{}}"));
	test_cond("step 3 condition false on No",
	    !cond_true(&s[2], "{`promptResponse`:`No`,`state`:{}}"));
	test_cond("step 4 is a wait", s[3].type == STEP_WAIT &&
	    s[3].duration_ms == 10000);
	workflow_free(wf);

	wf = NULL;
	test_cond("SPEC: backup workflow loads", good(J("{ `steps`: ["
	    "{ `name`: `Create backup`, `type`: `execute`, `targets`: [`all`],"
	    "`command`: `tar -czf /tmp/backup-$(date +%Y%m%d).tar.gz "
	    "/opt/pulse-worker` },"
	    "{ `name`: `Wait for backup`, `type`: `wait`, `duration`: 5000 },"
	    "{ `name`: `Verify backup`, `type`: `execute`, `targets`: [`all`],"
	    "`command`: `tar -tzf /tmp/backup-*.tar.gz > /dev/null && "
	    "echo 'OK' || echo 'FAILED'` },"
	    "{ `name`: `Cleanup decision`, `type`: `prompt`,"
	    "`message`: `Backup complete. Delete old backups?`, "
	    "`options`: [`Yes`, `No`] },"
	    "{ `name`: `Cleanup old backups`, `type`: `execute`, "
	    "`targets`: [`all`], `command`: `find /tmp -name 'backup-*.tar.gz' "
	    "-mtime +7 -delete`, `condition`: `promptResponse === 'Yes'` } ]}"),
	    &wf));
	if (wf == NULL)
		return;
	test_cond("five steps", wf->nsteps == 5);
	test_cond("command kept byte for byte", strcmp(wf->steps[2].command,
	    "tar -tzf /tmp/backup-*.tar.gz > /dev/null && echo 'OK' || "
	    "echo 'FAILED'") == 0);
	test_cond("wait 5000", wf->steps[1].duration_ms == 5000);
	test_cond("last step has its condition", wf->steps[4].cond != NULL);
	workflow_free(wf);

	test_cond("SPEC: one-step workflow loads", loads(J("{`steps`:[{`name`:"
	    "`Check disk space`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`df -h`}]}")));
}

static void
test_top_level(void)
{
	test_cond("NULL definition", bad(NULL, -1, "definition",
	    "definition: must be an object"));
	test_cond("array definition", bad(J("[]"), -1, "definition",
	    "definition: must be an object"));
	test_cond("string definition", bad(J("`steps`"), -1, "definition",
	    "definition: must be an object"));
	test_cond("no steps", bad(J("{}"), -1, "steps", "steps: missing"));
	test_cond("steps an object", bad(J("{`steps`:{}}"), -1, "steps",
	    "steps: must be an array"));
	test_cond("steps null", bad(J("{`steps`:null}"), -1, "steps",
	    "steps: must be an array"));
	test_cond("steps a string", bad(J("{`steps`:`a`}"), -1, "steps",
	    "steps: must be an array"));
	test_cond("no step", bad(J("{`steps`:[]}"), -1, "steps",
	    "steps: must not be empty"));
	test_cond("WF_STEPS_MAX steps", loads(many(EXEC "}", WF_STEPS_MAX)));
	test_cond("one step more", bad(many(EXEC "}", WF_STEPS_MAX + 1), -1,
	    "steps", "steps: more than 256 steps"));
	test_cond("unknown top-level key", bad(J("{`steps`:[" EXEC "}],"
	    "`name`:`x`}"), -1, "name", "unknown field 'name' in the "
	    "definition (allowed: \"steps\", \"params\", \"allowed_groups\", "
	    "\"on_failure\", \"approval\", \"notify\")"));
	test_cond("misspelt steps", bad(J("{`stpes`:[]}"), -1, "stpes",
	    "unknown field 'stpes' in the definition (allowed: \"steps\", "
	    "\"params\", \"allowed_groups\", \"on_failure\", "
	    "\"approval\", \"notify\")"));
	/* approval (SPEC section 15): each bad shape names approval.KEY. */
	test_cond("approval with defaults", loads(J("{`approval`:{`approvers`:"
	    "[`leads`]},`steps`:[" EXEC "}]}")));
	test_cond("approval all keys", loads(J("{`approval`:{`required`:10,"
	    "`approvers`:[`a`,`b`],`expires_in`:2592000000},`steps`:[" EXEC
	    "}]}")));
	test_cond("approval not an object", bad(J("{`approval`:[],`steps`:["
	    EXEC "}]}"), -1, "approval", "approval: must be an object "
	    "{\"required\", \"approvers\", \"expires_in\"}"));
	test_cond("approval.required 0", bad(J("{`approval`:{`required`:0,"
	    "`approvers`:[`a`]},`steps`:[" EXEC "}]}"), -1, "approval.required",
	    "approval.required: must be between 1 and 10"));
	test_cond("approval.required 1.5", bad(J("{`approval`:{`required`:1.5,"
	    "`approvers`:[`a`]},`steps`:[" EXEC "}]}"), -1, "approval.required",
	    "approval.required: must be an integer"));
	test_cond("approval.approvers missing", bad(J("{`approval`:{},`steps`:["
	    EXEC "}]}"), -1, "approval.approvers",
	    "approval.approvers: missing"));
	test_cond("approval.approvers repeated", bad(J("{`approval`:"
	    "{`approvers`:[`a`,`a`]},`steps`:[" EXEC "}]}"), -1,
	    "approval.approvers", "approval.approvers: item 2 repeats item 1"));
	test_cond("approval.expires_in 999", bad(J("{`approval`:{`approvers`:"
	    "[`a`],`expires_in`:999},`steps`:[" EXEC "}]}"), -1,
	    "approval.expires_in", "approval.expires_in: must be between 1000 "
	    "and 2592000000 ms"));
	test_cond("approval unknown key", bad(J("{`approval`:{`approvers`:[`a`],"
	    "`who`:1},`steps`:[" EXEC "}]}"), -1, "approval.who",
	    "approval.who: unknown field (allowed: \"required\", "
	    "\"approvers\", \"expires_in\")"));
	test_cond("step a number", bad(J("{`steps`:[1]}"), 0, "steps",
	    "step 1: must be an object"));
	test_cond("second step a string", bad(J("{`steps`:[" EXEC "},`x`]}"),
	    1, "steps", "step 2: must be an object"));
	test_cond("step null", bad(J("{`steps`:[" EXEC "}," EXEC "},null]}"),
	    2, "steps", "step 3: must be an object"));
	test_cond("step an array", bad(J("{`steps`:[[]]}"), 0, "steps",
	    "step 1: must be an object"));
}

static void
test_name(void)
{
	struct json_object	*def;
	struct workflow		*wf = NULL;

	test_cond("name missing", bad(one("{`type`:`wait`,`duration`:1}"), 0,
	    "name", "step 1: name: missing"));
	test_cond("name a number", bad(one("{`name`:1,`type`:`wait`,"
	    "`duration`:1}"), 0, "name", "step 1: name: must be a string"));
	test_cond("name null", bad(one("{`name`:null,`type`:`wait`,"
	    "`duration`:1}"), 0, "name", "step 1: name: must be a string"));
	test_cond("name empty", bad(one("{`name`:``,`type`:`wait`,"
	    "`duration`:1}"), 0, "name", "step 1: name: must not be empty"));
	test_cond("name with a NUL", bad(one("{`name`:`a\\u0000b`,"
	    "`type`:`wait`,`duration`:1}"), 0, "name",
	    "step 1: name: must not contain a NUL byte"));
	def = set_str(one(WAIT "}"), 0, "name", WF_STEP_NAME_CHARS, 'n');
	test_cond("name of WF_STEP_NAME_CHARS ASCII characters", good(def, &wf)
	    && strlen(wf->steps[0].name) == WF_STEP_NAME_CHARS);
	workflow_free(wf);
	/* VARCHAR(255) in utf8mb4 holds 255 characters, not 255 bytes. */
	def = set_chars(one(WAIT "}"), 0, "name", 200, "\xc3\xa9");
	test_cond("name of 200 characters of e-acute (400 bytes)",
	    good(def, &wf) && strlen(wf->steps[0].name) == 400);
	workflow_free(wf);
	def = set_chars(one(WAIT "}"), 0, "name", WF_STEP_NAME_CHARS,
	    "\xf0\x9f\x98\x80");
	test_cond("name of WF_STEP_NAME_CHARS 4-byte characters "
	    "(WF_STEP_NAME_MAX bytes)", good(def, &wf) &&
	    strlen(wf->steps[0].name) == WF_STEP_NAME_MAX);
	workflow_free(wf);
	test_cond("name one character longer", bad(set_str(one(WAIT "}"), 0,
	    "name", WF_STEP_NAME_CHARS + 1, 'n'), 0, "name",
	    "step 1: name: is longer than 255 characters (256)"));
	test_cond("name of 256 characters of e-acute", bad(set_chars(
	    one(WAIT "}"), 0, "name", WF_STEP_NAME_CHARS + 1, "\xc3\xa9"), 0,
	    "name", "step 1: name: is longer than 255 characters (256)"));
	test_cond("name past WF_STEP_NAME_MAX bytes", bad(set_str(
	    one(WAIT "}"), 0, "name", WF_STEP_NAME_MAX + 1, 'n'), 0, "name",
	    "step 1: name: is longer than 255 characters"));
	test_cond("name of invalid UTF-8", bad(set_str(one(WAIT "}"), 0,
	    "name", 3, '\xff'), 0, "name",
	    "step 1: name: is not valid UTF-8"));
	test_cond("a long name is cut in messages", bad(set_str(one(
	    "{`type`:`wat`}"), 0, "name", 200, 'n'), 0, "type",
	    "step 1 (\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnn...\"): type: must be execute, prompt, wait, parallel or "
	    "workflow, "
	    "not 'wat'"));
	test_cond("names are cut between characters", bad(one("{`name`:"
	    "`a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9`,"
	    "`type`:1}"), 0, "type",
	    "step 1 (\"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9...\"): type: must be a string"));
	test_cond("duplicate names are allowed", loads(J("{`steps`:["
	    WAIT "}," WAIT "}]}")));
}

static void
test_type(void)
{
	test_cond("type missing", bad(one("{`name`:`A`}"), 0, "type",
	    "step 1 (\"A\"): type: missing"));
	test_cond("type a number", bad(one("{`name`:`A`,`type`:1}"), 0,
	    "type", "step 1 (\"A\"): type: must be a string"));
	test_cond("type unknown", bad(one("{`name`:`A`,`type`:`run`}"), 0,
	    "type", "step 1 (\"A\"): type: must be execute, prompt, wait, "
	    "parallel or workflow, not 'run'"));
	test_cond("type is case-sensitive", bad(one("{`name`:`A`,"
	    "`type`:`Execute`}"), 0, "type", "step 1 (\"A\"): type: must be "
	    "execute, prompt, wait, parallel or workflow, not 'Execute'"));
	test_cond("type empty", bad(one("{`name`:`A`,`type`:``}"), 0, "type",
	    "step 1 (\"A\"): type: must be execute, prompt, wait, parallel or "
	    "workflow, not ''"));
	test_cond("step_type_name", strcmp(step_type_name(STEP_EXECUTE),
	    "execute") == 0 && strcmp(step_type_name(STEP_PROMPT), "prompt")
	    == 0 && strcmp(step_type_name(STEP_WAIT), "wait") == 0);
	test_cond("step_type_name of garbage",
	    strcmp(step_type_name((enum step_kind)42), "unknown") == 0);
}

static void
test_unknown_keys(void)
{
	test_cond("misspelt command", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`],`comand`:`ls`}"), 0, "comand",
	    "step 1 (\"A\"): unknown field 'comand' for an execute step"));
	test_cond("prompt field on an execute step", bad(one(EXEC
	    ",`options`:[`a`]}"), 0, "options", "step 1 (\"A\"): unknown "
	    "field 'options' for an execute step"));
	test_cond("execute field on a prompt step", bad(one(PROMPT
	    ",`targets`:[`all`]}"), 0, "targets", "step 1 (\"P\"): unknown "
	    "field 'targets' for a prompt step"));
	test_cond("timeout on a wait step", bad(one(WAIT ",`timeout`:5}"), 0,
	    "timeout", "step 1 (\"W\"): unknown field 'timeout' for a wait "
	    "step"));
	test_cond("duration on an execute step", bad(one(EXEC
	    ",`duration`:5}"), 0, "duration", "step 1 (\"A\"): unknown field "
	    "'duration' for an execute step"));
	test_cond("keys are case-sensitive", bad(one(WAIT ",`Name`:`x`}"), 0,
	    "Name", "step 1 (\"W\"): unknown field 'Name' for a wait step"));
	test_cond("a long unknown key is cut", bad(one(WAIT ",`abcdefghijklmn"
	    "opqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz`"
	    ":1}"), 0, "abcdefghijklmnopqrstuvwxyzab...", "step 1 (\"W\"): "
	    "unknown field 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw"
	    "xyzabcdefghijkl...' for a wait step"));
	test_cond("unknown key wins over a missing field", bad(one(
	    "{`name`:`A`,`type`:`execute`,`comand`:`ls`}"), 0, "comand",
	    "step 1 (\"A\"): unknown field 'comand' for an execute step"));
	test_cond("description is allowed everywhere", loads(J("{`steps`:["
	    EXEC ",`description`:`d`}," PROMPT ",`description`:`d`},"
	    WAIT ",`description`:``}]}")));
	test_cond("description must be a string", bad(one(WAIT
	    ",`description`:5}"), 0, "description",
	    "step 1 (\"W\"): description: must be a string"));
}

static void
test_execute(void)
{
	struct json_object	*def;
	struct workflow		*wf = NULL;
	char			*s;

	test_cond("targets missing", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: missing"));
	test_cond("targets a string", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:`all`,`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: must be an array of strings"));
	test_cond("targets empty", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[],`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: must not be empty"));
	test_cond("target a number", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[1],`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: item 1 must be a string"));
	test_cond("target null", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`a`,null],`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: item 2 must be a string"));
	test_cond("target empty", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`a`,``],`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: item 2 must not be empty"));
	test_cond("target with a NUL", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`a\\u0000`],`command`:`ls`}"), 0, "targets",
	    "step 1 (\"A\"): targets: item 1 must not contain a NUL byte"));
	def = set_items(one(EXEC "}"), 0, "targets", WF_TARGETS_MAX,
	    WF_TARGET_CHARS);
	test_cond("WF_TARGETS_MAX targets of WF_TARGET_CHARS characters",
	    good(def, &wf) && wf->steps[0].ntargets == WF_TARGETS_MAX &&
	    strlen(wf->steps[0].targets[255]) == WF_TARGET_CHARS &&
	    strncmp(wf->steps[0].targets[255], "00255x", 6) == 0);
	workflow_free(wf);
	s = chars(WF_TARGET_CHARS, "\xc3\xa9");
	test_cond("a target of WF_TARGET_CHARS characters of e-acute",
	    good(set_list(one(EXEC "}"), 0, "targets", 1, s), &wf) &&
	    strcmp(wf->steps[0].targets[0], s) == 0);
	workflow_free(wf);
	free(s);
	test_cond("one target more", bad(set_items(one(EXEC "}"), 0,
	    "targets", WF_TARGETS_MAX + 1, 8), 0, "targets",
	    "step 1 (\"A\"): targets: more than 256 items"));
	test_cond("a target one character longer", bad(set_items(
	    one(EXEC "}"), 0, "targets", 3, WF_TARGET_CHARS + 1), 0, "targets",
	    "step 1 (\"A\"): targets: item 1 is longer than 255 characters "
	    "(256)"));
	test_cond("repeated targets are allowed", loads(one("{`name`:`A`,"
	    "`type`:`execute`,`targets`:[`web`,`web`],`command`:`ls`}")));

	test_cond("command missing", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`]}"), 0, "command",
	    "step 1 (\"A\"): command: missing"));
	test_cond("command a number", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`],`command`:5}"), 0, "command",
	    "step 1 (\"A\"): command: must be a string"));
	test_cond("command an array", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`],`command`:[`ls`]}"), 0, "command",
	    "step 1 (\"A\"): command: must be a string"));
	test_cond("command empty", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`],`command`:``}"), 0, "command",
	    "step 1 (\"A\"): command: must not be empty"));
	test_cond("command with a NUL", bad(one("{`name`:`A`,`type`:`execute`,"
	    "`targets`:[`all`],`command`:`ls\\u0000; rm -rf /`}"), 0,
	    "command", "step 1 (\"A\"): command: must not contain a NUL "
	    "byte"));
	def = set_str(one(EXEC "}"), 0, "command", WF_COMMAND_MAX, 'c');
	test_cond("command of WF_COMMAND_MAX bytes", good(def, &wf) &&
	    strlen(wf->steps[0].command) == WF_COMMAND_MAX);
	workflow_free(wf);
	test_cond("command one byte longer", bad(set_str(one(EXEC "}"), 0,
	    "command", WF_COMMAND_MAX + 1, 'c'), 0, "command",
	    "step 1 (\"A\"): command: longer than 65536 bytes"));

	def = one(EXEC ",`timeout`:1}");
	test_cond("timeout 1", good(def, &wf) && wf->steps[0].timeout_ms == 1);
	workflow_free(wf);
	def = one(EXEC ",`timeout`:604800000}");
	test_cond("timeout WF_TIMEOUT_MAX", good(def, &wf) &&
	    wf->steps[0].timeout_ms == WF_TIMEOUT_MAX);
	workflow_free(wf);
	def = one(EXEC "}");
	test_cond("timeout defaults", good(def, &wf) &&
	    wf->steps[0].timeout_ms == WF_TIMEOUT_DEFAULT);
	workflow_free(wf);
	test_cond("timeout 0", bad(one(EXEC ",`timeout`:0}"), 0, "timeout",
	    "step 1 (\"A\"): timeout: must be between 1 and 604800000 ms"));
	test_cond("timeout negative", bad(one(EXEC ",`timeout`:-5}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be between 1 and "
	    "604800000 ms"));
	test_cond("timeout one past the maximum", bad(one(EXEC
	    ",`timeout`:604800001}"), 0, "timeout", "step 1 (\"A\"): "
	    "timeout: must be between 1 and 604800000 ms"));
	test_cond("timeout past int64", bad(one(EXEC
	    ",`timeout`:99999999999999999999}"), 0, "timeout",
	    "step 1 (\"A\"): timeout: must be between 1 and 604800000 ms"));
	test_cond("timeout 1.5", bad(one(EXEC ",`timeout`:1.5}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
	test_cond("timeout 1000.0", bad(one(EXEC ",`timeout`:1000.0}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
	test_cond("timeout 1e3", bad(one(EXEC ",`timeout`:1e3}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
	test_cond("timeout a string", bad(one(EXEC ",`timeout`:`100`}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
	test_cond("timeout a boolean", bad(one(EXEC ",`timeout`:true}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
	test_cond("timeout null", bad(one(EXEC ",`timeout`:null}"), 0,
	    "timeout", "step 1 (\"A\"): timeout: must be an integer "
	    "(milliseconds)"));
}

static void
test_prompt(void)
{
	struct json_object	*def;
	struct workflow		*wf = NULL;
	char			*s;

	test_cond("message missing", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`options`:[`Yes`]}"), 0, "message",
	    "step 1 (\"P\"): message: missing"));
	test_cond("message a number", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:1,`options`:[`Yes`]}"), 0, "message",
	    "step 1 (\"P\"): message: must be a string"));
	test_cond("message empty", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:``,`options`:[`Yes`]}"), 0, "message",
	    "step 1 (\"P\"): message: must not be empty"));
	test_cond("message with a NUL", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`\\u0000`,`options`:[`Yes`]}"), 0, "message",
	    "step 1 (\"P\"): message: must not contain a NUL byte"));
	def = set_str(one(PROMPT "}"), 0, "message", WF_MESSAGE_MAX, 'm');
	test_cond("message of WF_MESSAGE_MAX bytes", good(def, &wf) &&
	    strlen(wf->steps[0].message) == WF_MESSAGE_MAX);
	workflow_free(wf);
	test_cond("message one byte longer", bad(set_str(one(PROMPT "}"), 0,
	    "message", WF_MESSAGE_MAX + 1, 'm'), 0, "message",
	    "step 1 (\"P\"): message: longer than 4096 bytes"));

	test_cond("options missing", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`}"), 0, "options",
	    "step 1 (\"P\"): options: missing"));
	test_cond("options a string", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:`Yes`}"), 0, "options",
	    "step 1 (\"P\"): options: must be an array of strings"));
	test_cond("options empty", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:[]}"), 0, "options",
	    "step 1 (\"P\"): options: must not be empty"));
	test_cond("option a number", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:[`Yes`,2]}"), 0, "options",
	    "step 1 (\"P\"): options: item 2 must be a string"));
	test_cond("option an object", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:[{}]}"), 0, "options",
	    "step 1 (\"P\"): options: item 1 must be a string"));
	test_cond("option empty", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:[`Yes`,``]}"), 0, "options",
	    "step 1 (\"P\"): options: item 2 must not be empty"));
	test_cond("repeated option", bad(one("{`name`:`P`,`type`:`prompt`,"
	    "`message`:`Go?`,`options`:[`Yes`,`No`,`Yes`]}"), 0, "options",
	    "step 1 (\"P\"): options: item 3 repeats item 1"));
	test_cond("options differing in case are distinct", loads(one(
	    "{`name`:`P`,`type`:`prompt`,`message`:`Go?`,"
	    "`options`:[`Yes`,`yes`]}")));
	test_cond("one option is enough", loads(one("{`name`:`P`,"
	    "`type`:`prompt`,`message`:`Go?`,`options`:[`OK`]}")));
	def = set_items(one(PROMPT "}"), 0, "options", WF_OPTIONS_MAX,
	    WF_OPTION_CHARS);
	test_cond("WF_OPTIONS_MAX options of WF_OPTION_CHARS characters",
	    good(def, &wf) && wf->steps[0].noptions == WF_OPTIONS_MAX &&
	    strlen(wf->steps[0].options[31]) == WF_OPTION_CHARS);
	workflow_free(wf);
	s = chars(WF_OPTION_CHARS, "\xc3\xa9");
	test_cond("an option of WF_OPTION_CHARS characters of e-acute",
	    good(set_list(one(PROMPT "}"), 0, "options", 1, s), &wf) &&
	    strcmp(wf->steps[0].options[0], s) == 0);
	workflow_free(wf);
	free(s);
	test_cond("one option more", bad(set_items(one(PROMPT "}"), 0,
	    "options", WF_OPTIONS_MAX + 1, 3), 0, "options",
	    "step 1 (\"P\"): options: more than 32 items"));
	test_cond("an option one character longer", bad(set_items(
	    one(PROMPT "}"), 0, "options", 2, WF_OPTION_CHARS + 1), 0,
	    "options", "step 1 (\"P\"): options: item 1 is longer than 255 "
	    "characters (256)"));
}

static void
test_wait(void)
{
	struct json_object	*def;
	struct workflow		*wf = NULL;

	test_cond("duration missing", bad(one("{`name`:`W`,`type`:`wait`}"), 0,
	    "duration", "step 1 (\"W\"): duration: missing"));
	def = one("{`name`:`W`,`type`:`wait`,`duration`:0}");
	test_cond("duration 0", good(def, &wf) &&
	    wf->steps[0].duration_ms == 0);
	workflow_free(wf);
	def = one("{`name`:`W`,`type`:`wait`,`duration`:604800000}");
	test_cond("duration WF_DURATION_MAX", good(def, &wf) &&
	    wf->steps[0].duration_ms == WF_DURATION_MAX);
	workflow_free(wf);
	test_cond("duration one past the maximum", bad(one("{`name`:`W`,"
	    "`type`:`wait`,`duration`:604800001}"), 0, "duration",
	    "step 1 (\"W\"): duration: must be between 0 and 604800000 ms"));
	test_cond("duration negative", bad(one("{`name`:`W`,`type`:`wait`,"
	    "`duration`:-1}"), 0, "duration", "step 1 (\"W\"): duration: must "
	    "be between 0 and 604800000 ms"));
	test_cond("duration 1.5", bad(one("{`name`:`W`,`type`:`wait`,"
	    "`duration`:1.5}"), 0, "duration", "step 1 (\"W\"): duration: "
	    "must be an integer (milliseconds)"));
	test_cond("duration a string", bad(one("{`name`:`W`,`type`:`wait`,"
	    "`duration`:`5000`}"), 0, "duration", "step 1 (\"W\"): duration: "
	    "must be an integer (milliseconds)"));
	test_cond("duration false", bad(one("{`name`:`W`,`type`:`wait`,"
	    "`duration`:false}"), 0, "duration", "step 1 (\"W\"): duration: "
	    "must be an integer (milliseconds)"));
}

static void
test_condition(void)
{
	struct json_object	*def;
	struct workflow		*wf = NULL;
	char			*src;

	test_cond("syntax error names step, field and column", bad(J(
	    "{`steps`:[" EXEC "}," PROMPT "},"
	    "{`name`:`Upgrade packages`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`apt upgrade -y`,`condition`:`promptResponse = 'Yes'`}"
	    "]}"), 2, "condition", "step 3 (\"Upgrade packages\"): condition: "
	    "at column 16: unexpected character '='"));
	test_cond("unclosed parenthesis", bad(one(WAIT ",`condition`:"
	    "`(promptResponse === 'Yes'`}"), 0, "condition",
	    "step 1 (\"W\"): condition: at column 26: expected ')' but found "
	    "end of input"));
	test_cond("constructor escape", bad(one(WAIT ",`condition`:"
	    "`constructor.constructor('return 1')()`}"), 0, "condition",
	    "step 1 (\"W\"): condition: at column 1: 'constructor' is not "
	    "allowed"));
	test_cond("template literal", bad(one(PROMPT
	    ",`condition`:`a === \\u0060x\\u0060`}"), 0,
	    "condition", "step 1 (\"P\"): condition: at column 7: template "
	    "literals are not allowed"));
	test_cond("a call", bad(one(EXEC ",`condition`:`require('fs')`}"), 0,
	    "condition", "step 1 (\"A\"): condition: at column 8: only the "
	    "methods includes, startsWith, endsWith, trim, toLowerCase and "
	    "toUpperCase can be called"));
	test_cond("condition not a string", bad(one(EXEC ",`condition`:true}"),
	    0, "condition", "step 1 (\"A\"): condition: must be a string"));
	test_cond("condition null", bad(one(EXEC ",`condition`:null}"),
	    0, "condition", "step 1 (\"A\"): condition: must be a string"));
	test_cond("condition empty", bad(one(EXEC ",`condition`:``}"), 0,
	    "condition", "step 1 (\"A\"): condition: must not be empty"));
	test_cond("condition blank", bad(one(EXEC ",`condition`:`  `}"), 0,
	    "condition", "step 1 (\"A\"): condition: at column 3: expected "
	    "an expression but found end of input"));
	test_cond("condition with a NUL", bad(one(EXEC ",`condition`:"
	    "`true\\u0000`}"), 0, "condition", "step 1 (\"A\"): condition: "
	    "must not contain a NUL byte"));

	if ((src = malloc(COND_SOURCE_MAX + 2)) == NULL)
		abort();
	memset(src, ' ', COND_SOURCE_MAX + 1);
	memcpy(src, "true", 4);
	src[COND_SOURCE_MAX] = '\0';
	def = one(WAIT "}");
	json_object_object_add(step_of(def, 0), "condition",
	    json_object_new_string(src));
	test_cond("condition of COND_SOURCE_MAX bytes", good(def, &wf) &&
	    strlen(wf->steps[0].condition) == COND_SOURCE_MAX);
	workflow_free(wf);
	src[COND_SOURCE_MAX] = ' ';
	src[COND_SOURCE_MAX + 1] = '\0';
	def = one(WAIT "}");
	json_object_object_add(step_of(def, 0), "condition",
	    json_object_new_string(src));
	test_cond("condition one byte longer", bad(def, 0, "condition",
	    "step 1 (\"W\"): condition: longer than 4096 bytes"));
	free(src);

	def = J("{`steps`:[" EXEC ",`condition`:`state.steps[0].status === "
	    "'succeeded'`}," PROMPT ",`condition`:`true`}," WAIT
	    ",`condition`:`!false`}]}");
	test_cond("conditions on every step type", good(def, &wf) &&
	    wf->steps[0].cond != NULL && wf->steps[1].cond != NULL &&
	    wf->steps[2].cond != NULL);
	test_cond("the stored condition runs", wf != NULL && cond_true(
	    &wf->steps[0], "{`promptResponse`:null,`state`:{`steps`:"
	    "[{`status`:`succeeded`}]}}"));
	workflow_free(wf);
	test_cond("a condition is checked after the type's fields", bad(one(
	    "{`name`:`A`,`type`:`execute`,`condition`:`=`}"), 0, "targets",
	    "step 1 (\"A\"): targets: missing"));
}

static void
test_api(void)
{
	struct workflow_error	 err;
	struct workflow		*wf = (struct workflow *)&err;
	struct json_object	*def;

	def = J("{`steps`:5}");
	test_cond("NULL error is allowed", workflow_from_json(def, &wf, NULL)
	    == -1 && wf == NULL);
	json_object_put(def);

	memset(&err, 'x', sizeof(err));
	def = one(WAIT "}");
	test_cond("success clears the error", workflow_from_json(def, &wf,
	    &err) == 0 && err.step == -1 && err.field[0] == '\0' &&
	    err.msg[0] == '\0');
	workflow_free(wf);
	json_object_put(def);

	test_cond("the first bad step is reported", bad(J("{`steps`:[" WAIT
	    "},{`name`:`B`,`type`:`x`},{`name`:``}]}"), 1, "type",
	    "step 2 (\"B\"): type: must be execute, prompt, wait, parallel "
	    "or workflow, not 'x'"));
	test_cond("a failure in the last of many steps frees the rest",
	    bad(J("{`steps`:[" EXEC "}," PROMPT "}," WAIT "}," EXEC
	    ",`timeout`:0}]}"), 3, "timeout", "step 4 (\"A\"): timeout: must "
	    "be between 1 and 604800000 ms"));
	test_cond("a failure half-way through a step's lists frees them",
	    bad(one("{`name`:`P`,`type`:`prompt`,`message`:`m`,"
	    "`options`:[`a`,`b`,`c`,`b`]}"), 0, "options",
	    "step 1 (\"P\"): options: item 4 repeats item 2"));
	workflow_free(NULL);	/* a crash here fails the run */
}

/* SPEC section 14: params and allowed_groups beside steps, templates and
 * conditions checked against the parameters declared. */
static void
test_params(void)
{
	struct workflow	*wf = NULL;
	const char	*v = "`params`:[{`name`:`v`,`type`:`string`}]";
	char		 buf[1024];

#define WITH(steps) (snprintf(buf, sizeof(buf), "{%s,`steps`:[%s]}", v, \
	    steps), J(buf))
	test_cond("params and allowed_groups load",
	    good(J("{`params`:[{`name`:`v`,`type`:`string`}],"
	    "`allowed_groups`:[`ops`,`dev`],`steps`:[{`name`:`A`,"
	    "`type`:`execute`,`targets`:[`all`],"
	    "`command`:`echo {{ params.v }}`}]}"), &wf) &&
	    params_count(wf->params) == 1 && wf->nallowed_groups == 2 &&
	    strcmp(wf->allowed_groups[1], "dev") == 0);
	workflow_free(wf);
	test_cond("a bad parameter names its field", bad(J("{`params`:"
	    "[{`name`:`1v`,`type`:`string`}],`steps`:[" EXEC "}]}"), -1,
	    "params[0].name", "params[0].name: must be an identifier "
	    "([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes)"));
	test_cond("an unknown parameter in a command", bad(WITH(
	    "{`name`:`A`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`echo {{ params.w }}`}"), 0, "command",
	    "step 1 (\"A\"): command: at byte 5: unknown parameter 'w'"));
	test_cond("a template inside quotes in a command", bad(WITH(
	    "{`name`:`A`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`echo \\\"{{ params.v }}\\\"`}"), 0, "command",
	    "step 1 (\"A\"): command: at byte 6: a template inside double "
	    "quotes is not quoted safely: write it bare, as a word of its own; "
	    "its value is quoted for you"));
	test_cond("a prompt's message is a template, not sh", loads(WITH(
	    "{`name`:`P`,`type`:`prompt`,`message`:`Go '{{ params.v }}'?`,"
	    "`options`:[`Yes`]}")));
	test_cond("an unknown parameter in a condition", bad(WITH(
	    EXEC ",`condition`:`params.w === 1`}"), 0, "condition",
	    "step 1 (\"A\"): condition: at column 8: unknown parameter "
	    "'w'"));
	test_cond("allowed_groups repeating a name", bad(J(
	    "{`allowed_groups`:[`a`,`a`],`steps`:[" EXEC "}]}"), -1,
	    "allowed_groups", "allowed_groups: item 2 repeats item 1"));
	test_cond("without params, \"{{\" is no template (version 1)",
	    good(J("{`steps`:[{`name`:`A`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`docker ps --format '{{.Names}}'`}]}"), &wf) &&
	    !wf->templates);
	test_cond("an unknown parameter in a group's step", bad(WITH(
	    "{`name`:`G`,`type`:`parallel`,`steps`:[{`name`:`A`,"
	    "`type`:`execute`,`targets`:[`all`],"
	    "`command`:`echo {{ params.w }}`}]}"), 0, "steps[0].command",
	    "step 1 (\"G\"), steps[0] (\"A\"): command: at byte 5: unknown "
	    "parameter 'w'"));
	test_cond("an unknown parameter in an on_failure step", bad(J(
	    "{`params`:[{`name`:`v`,`type`:`string`}],`steps`:[" EXEC "}],"
	    "`on_failure`:[{`name`:`R`,`type`:`execute`,`targets`:[`all`],"
	    "`command`:`echo {{ params.w }}`}]}"), 0, "on_failure[0].command",
	    "on_failure step 1 (\"R\"): command: at byte 5: unknown "
	    "parameter 'w'"));
	workflow_free(wf);
#undef WITH
}

/* The flat plan (workflow.h): groups' steps after them, on_failure last. */
static void
test_plan(void)
{
	struct workflow		*wf = NULL;
	const struct plan_entry	*pe;

	test_cond("a plan with a group and on_failure steps", good(J(
	    "{`steps`:[" EXEC "},{`name`:`G`,`type`:`parallel`,`steps`:["
	    EXEC ",`on_failure`:`continue`}," WAIT "}]}," WAIT "}],"
	    "`on_failure`:[" EXEC "},{`name`:`H`,`type`:`parallel`,`steps`:["
	    WAIT "}]}]}"), &wf));
	if (wf == NULL)
		return;
	test_cond("eight entries, five main", wf->nplan == 8 &&
	    wf->nmain == 5);
	pe = workflow_plan_at(wf, 2);
	test_cond("index 2 is the group's first step, continue",
	    pe != NULL && pe->parent == 1 && pe->st->type == STEP_EXECUTE &&
	    pe->st->on_failure_continue && pe->phase == PHASE_MAIN);
	pe = workflow_plan_at(wf, 7);
	test_cond("index 7 is the on_failure group's step",
	    pe != NULL && pe->parent == 6 && pe->phase == PHASE_ON_FAILURE &&
	    strcmp(plan_phase_name(pe->phase), "on_failure") == 0);
	test_cond("next after the group skips its steps",
	    workflow_plan_next(wf, 1) == 4 && workflow_plan_next(wf, 0) == 1 &&
	    workflow_plan_next(wf, 6) == 8);
	test_cond("out of range", workflow_plan_at(wf, 8) == NULL &&
	    workflow_plan_at(wf, -1) == NULL);
	workflow_free(wf);
	wf = NULL;
	test_cond("a v1 plan is its steps", good(J("{`steps`:[" EXEC "},"
	    PROMPT "}," WAIT "}]}"), &wf) && wf->nplan == 3 &&
	    wf->nmain == 3 && wf->plan[1].st == &wf->steps[1] &&
	    wf->plan[2].parent == -1);
	workflow_free(wf);
	test_cond("a prompt in a group", bad(J("{`steps`:[{`name`:`G`,"
	    "`type`:`parallel`,`steps`:[" EXEC "}," PROMPT "}]}]}"), 0,
	    "steps[1].type", "step 1 (\"G\"), steps[1] (\"P\"): type: a "
	    "prompt cannot be inside a parallel group"));
	test_cond("a group in a group", bad(J("{`steps`:[{`name`:`G`,"
	    "`type`:`parallel`,`steps`:[{`name`:`H`,`type`:`parallel`,"
	    "`steps`:[" EXEC "}]}]}]}"), 0, "steps[0].type",
	    "step 1 (\"G\"), steps[0] (\"H\"): type: a parallel group "
	    "cannot be inside a parallel group"));
	test_cond("a bad on_failure step", bad(J("{`steps`:[" EXEC "}],"
	    "`on_failure`:[" WAIT "}," WAIT ",`duration`:-1}]}"), 1,
	    "on_failure[1].duration", "on_failure step 2 (\"W\"): duration: "
	    "must be between 0 and 604800000 ms"));
	test_cond("a bad step in an on_failure group", bad(J("{`steps`:["
	    EXEC "}],`on_failure`:[{`name`:`G`,`type`:`parallel`,`steps`:["
	    EXEC ",`on_failure`:`x`}]}]}"), 0, "on_failure[0].steps[0]."
	    "on_failure", "on_failure step 1 (\"G\"), steps[0] (\"A\"): "
	    "on_failure: must be \"continue\" or \"fail\""));
}

/* retry and retry_lost (SPEC section 14); their timing is test-retry.c's. */
static void
test_retry(void)
{
	struct workflow		*wf;
	struct json_object	*def;
	const struct retry	*r;

	def = one(EXEC "}");
	test_cond("no retry: attempts 0", good(def, &wf) &&
	    wf->steps[0].retry.attempts == 0 && !wf->steps[0].retry_lost);
	workflow_free(wf);
	def = one(EXEC ",`retry`:{`attempts`:3,`delay`:500,`backoff`:2},"
	    "`retry_lost`:true}");
	test_cond("retry parsed", good(def, &wf));
	r = wf != NULL ? &wf->steps[0].retry : NULL;
	test_cond("retry's values kept", r != NULL && r->attempts == 3 &&
	    r->delay_ms == 500 && r->backoff == 2 && r->max_delay_ms == 4000 &&
	    wf->steps[0].retry_lost);
	workflow_free(wf);
	test_cond("retry not an object", bad(one(EXEC ",`retry`:3}"), 0,
	    "retry", "step 1 (\"A\"): retry: must be an object"));
	test_cond("retry without attempts", bad(one(EXEC ",`retry`:{}}"), 0,
	    "retry.attempts", "step 1 (\"A\"): retry.attempts: required"));
	test_cond("retry with an unknown key", bad(one(EXEC
	    ",`retry`:{`attempts`:1,`tries`:2}}"), 0, "retry.tries",
	    "step 1 (\"A\"): retry.tries: unknown key (attempts, delay, "
	    "backoff, max_delay)"));
	test_cond("retry_lost without retry", bad(one(EXEC
	    ",`retry_lost`:true}"), 0, "retry_lost", "step 1 (\"A\"): "
	    "retry_lost: needs retry (how many attempts, what delay)"));
	test_cond("retry_lost not a boolean", bad(one(EXEC
	    ",`retry`:{`attempts`:1},`retry_lost`:1}"), 0, "retry_lost",
	    "step 1 (\"A\"): retry_lost: must be true or false"));
	test_cond("retry on a wait step", bad(one("{`name`:`W`,`type`:`wait`,"
	    "`duration`:5,`retry`:{`attempts`:1}}"), 0, "retry",
	    "step 1 (\"W\"): unknown field 'retry' for a wait step"));
}

/* Which ended attempts the engine retries (step-retry.c). */
static void
test_retry_wanted(void)
{
	struct retry	 r = { .attempts = 2, .delay_ms = 10, .backoff = 1,
	    .max_delay_ms = 10 };
	struct retry	 none = { 0 };

	test_cond("failed attempt 1 of 3: retried",
	    step_retry_wanted(&r, 0, DISP_FAILED, 1));
	test_cond("timed_out attempt 2 of 3: retried",
	    step_retry_wanted(&r, 0, DISP_TIMED_OUT, 2));
	test_cond("attempt 3 of 3: no more",
	    !step_retry_wanted(&r, 0, DISP_FAILED, 3));
	test_cond("lost: only with retry_lost",
	    !step_retry_wanted(&r, 0, DISP_LOST, 1) &&
	    step_retry_wanted(&r, 1, DISP_LOST, 1));
	test_cond("refused, cancelled, skipped, succeeded: never",
	    !step_retry_wanted(&r, 1, DISP_REFUSED, 1) &&
	    !step_retry_wanted(&r, 1, DISP_CANCELLED, 1) &&
	    !step_retry_wanted(&r, 1, DISP_SKIPPED, 1) &&
	    !step_retry_wanted(&r, 1, DISP_SUCCEEDED, 1));
	test_cond("no retry: never", !step_retry_wanted(&none, 1,
	    DISP_FAILED, 1));
	test_cond("attempt 0 (not a real one): never",
	    !step_retry_wanted(&r, 1, DISP_FAILED, 0));
}

/* The workflow step (SPEC.md section 14, sub-workflows) at save. */
static void
test_subworkflow(void)
{
	struct workflow	*wf = NULL;
	const char	*n, *id = "00000000-0000-4000-8000-000000000001";
	size_t		 l;
	char		 buf[1024];

#define SUB(params) (snprintf(buf, sizeof(buf), "{`params`:[{`name`:`v`," \
	    "`type`:`string`}],`steps`:[{`name`:`S`,`type`:`workflow`," \
	    "`workflow_id`:`%s`%s}]}", id, params), J(buf))
	test_cond("a workflow step loads with literals and a reference",
	    good(SUB(",`params`:{`a`:`x`,`b`:2,`c`:1.5,`d`:true,"
	    "`e`:`{{params.v}}`}"), &wf) && wf->steps[0].type == STEP_WORKFLOW &&
	    strcmp(wf->steps[0].workflow_id, id) == 0 &&
	    json_object_object_length(wf->steps[0].sub_params) == 5);
	workflow_free(wf);
	test_cond("without params", loads(SUB("")));
	test_cond("workflow_id missing", bad(J("{`steps`:[{`name`:`S`,"
	    "`type`:`workflow`}]}"), 0, "workflow_id",
	    "step 1 (\"S\"): workflow_id: missing"));
	id = "nope";
	test_cond("workflow_id not an id", bad(SUB(""), 0, "workflow_id",
	    "step 1 (\"S\"): workflow_id: must be a workflow id (36 "
	    "characters, as the API returns it)"));
	id = "00000000-0000-4000-8000-000000000001";
	test_cond("params not an object", bad(SUB(",`params`:[1]"), 0,
	    "params", "step 1 (\"S\"): params: must be an object of the "
	    "child's parameter values"));
	test_cond("a value not a scalar", bad(SUB(",`params`:{`a`:{}}"), 0,
	    "params.a", "step 1 (\"S\"): params.a: must be a string, a "
	    "number or a boolean"));
	test_cond("a name not an identifier", bad(SUB(",`params`:{`1a`:1}"),
	    0, "params", "step 1 (\"S\"): params: '1a' is not a parameter "
	    "name"));
	test_cond("{{ in a value that is not a whole reference",
	    bad(SUB(",`params`:{`a`:`x{{ params.v }}`}"), 0, "params.a",
	    "step 1 (\"S\"): params.a: a value holding {{ must be exactly "
	    "{{ params.NAME }}, the parent's parameter NAME"));
	test_cond("a reference to a parameter not declared",
	    bad(SUB(",`params`:{`a`:`{{ params.w }}`}"), 0, "params.a",
	    "step 1 (\"S\"): params.a: {{ params.w }} is not a parameter "
	    "of this workflow"));
	test_cond("an unknown key", bad(SUB(",`targets`:[`all`]"), 0,
	    "targets", "step 1 (\"S\"): unknown field 'targets' for a "
	    "workflow step"));
	test_cond("a reference, spaces optional", workflow_sub_ref(
	    "{{params.v_1}}", &n, &l) == 1 && l == 3 &&
	    strncmp(n, "v_1", 3) == 0 && workflow_sub_ref("{{  params.x  }}",
	    &n, &l) == 1 && l == 1);
	test_cond("not a reference: more around it, another root, no name",
	    !workflow_sub_ref(" {{ params.v }}", &n, &l) &&
	    !workflow_sub_ref("{{ params.v }} ", &n, &l) &&
	    !workflow_sub_ref("{{ execution.id }}", &n, &l) &&
	    !workflow_sub_ref("{{ params. }}", &n, &l) &&
	    !workflow_sub_ref("{{ params.1v }}", &n, &l) &&
	    !workflow_sub_ref("{{ params.v }", &n, &l));
#undef SUB
}

/* The `notify` key (workflow-notify.c): its shape; channels are the API's. */
static void
test_notify(void)
{
	struct workflow	*wf = NULL;

#define NDEF(n)	J("{`steps`:[" EXEC "}],`notify`:" n "}")
	test_cond("notify: two rules load", good(NDEF("[{`channel`:`ops`,"
	    "`on`:[`failed`,`approval`]},{`channel`:`x`,`on`:[`prompt`,"
	    "`completed`]}]"), &wf) && wf->nnotify == 2 &&
	    strcmp(wf->notify[0].channel, "ops") == 0 &&
	    wf->notify[0].on == (1u << NOTIFY_FAILED | 1u << NOTIFY_APPROVAL) &&
	    wf->notify[1].on == (1u << NOTIFY_PROMPT | 1u << NOTIFY_COMPLETED));
	workflow_free(wf);
	wf = NULL;
	test_cond("notify: none", good(J("{`steps`:[" EXEC "}]}"), &wf) &&
	    wf->nnotify == 0);
	workflow_free(wf);
	test_cond("notify: an object", bad(NDEF("{}"), -1, "notify",
	    "notify: must be an array of {\"channel\", \"on\"}"));
	test_cond("notify: unknown event", bad(NDEF("[{`channel`:`a`,"
	    "`on`:[`failed`,`sometimes`]}]"), -1, "notify[0].on[1]",
	    "notify[0].on[1]: unknown event 'sometimes' (allowed: failed, "
	    "completed, prompt, approval)"));
	test_cond("notify: event twice", bad(NDEF("[{`channel`:`a`,"
	    "`on`:[`failed`,`failed`]}]"), -1, "notify[0].on[1]",
	    "notify[0].on[1]: 'failed' is listed twice"));
	test_cond("notify: no events", bad(NDEF("[{`channel`:`a`,`on`:[]}]"),
	    -1, "notify[0].on", "notify[0].on: must be a non-empty array of "
	    "events (failed, completed, prompt, approval)"));
	test_cond("notify: empty channel", bad(NDEF("[{`channel`:``,"
	    "`on`:[`failed`]}]"), -1, "notify[0].channel",
	    "notify[0].channel: must not be empty"));
	test_cond("notify: an unknown key", bad(NDEF("[{`x`:1}]"), -1,
	    "notify", "notify[0]: unknown field 'x' (allowed: \"channel\", "
	    "\"on\")"));
	test_cond("notify: second rule's channel missing", bad(NDEF(
	    "[{`channel`:`a`,`on`:[`failed`]},{`on`:[`failed`]}]"), -1,
	    "notify[1].channel", "notify[1].channel: must be a channel's "
	    "name or id"));
#undef NDEF
}

int
main(void)
{
	test_plan();
	test_spec_examples();
	test_top_level();
	test_name();
	test_type();
	test_unknown_keys();
	test_execute();
	test_retry();
	test_retry_wanted();
	test_prompt();
	test_wait();
	test_condition();
	test_api();
	test_params();
	test_subworkflow();
	test_report();
	test_notify();
}
