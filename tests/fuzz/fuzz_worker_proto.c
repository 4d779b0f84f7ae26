/*
 * libFuzzer target: a server message as pulse-worker decodes it
 * (worker/proto.c: proto_decode). Beyond crashes it checks that an
 * accepted message is what agent.c may act on without looking again
 * (ids are UUIDs, commands non-empty C strings, numbers within the
 * limits, a workflow's steps complete, an env of checked PULSE_PARAM_*
 * entries or else a reason), that a refusal says why, and
 * that decoding the same bytes twice gives the same answer. The same
 * bytes, as a C string, also go through the configuration parsers the
 * worker runs on its environment (WORKER_GROUPS, PULSE_SERVER, PULSE_WS).
 */
#include <string.h>

#include "fuzz.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * The env of an execute_command (issue 14): accepted, it is what the
 * child gets as it is (PULSE_PARAM_ names, no '=' in them, within every
 * limit, NULL-ended); refused, nothing of it is left and the error says
 * why, and the command is still whole, to be answered failed.
 */
static void
check_env(const struct msg *m)
{
	size_t	 i, plen = strlen(PULSE_ENV_PREFIX), total = 0, nlen;
	const char *eq;

	if (m->env_error != NULL) {
		fuzz_assert(m->env_error[0] != '\0');
		fuzz_assert(m->env == NULL && m->nenv == 0);
		return;
	}
	fuzz_assert(m->nenv <= PULSE_ENV_MAX);
	fuzz_assert(m->env != NULL || m->nenv == 0);
	if (m->env == NULL)
		return;
	fuzz_assert(m->env[m->nenv] == NULL);
	for (i = 0; i < m->nenv; i++) {
		fuzz_assert(strncmp(m->env[i], PULSE_ENV_PREFIX, plen) == 0);
		eq = strchr(m->env[i], '=');
		fuzz_assert(eq != NULL);
		nlen = (size_t)(eq - m->env[i]);
		fuzz_assert(nlen > plen && nlen - plen <= PULSE_ENV_NAME_MAX);
		fuzz_assert(strspn(m->env[i] + plen, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_") == nlen - plen);
		fuzz_assert(strlen(eq + 1) <= PULSE_ENV_VALUE_MAX);
		total += strlen(m->env[i]) - 1;
	}
	fuzz_assert(total <= PULSE_ENV_TOTAL_MAX);
}

static void
check_msg(const struct msg *m)
{
	size_t	 i;

	/* "" is an unknown type like any other: ignored, for compatibility. */
	fuzz_assert(strlen(m->type_name) <= WORKER_TYPE_MAX);
	switch (m->type) {
	case MSG_EXECUTE_COMMAND:
		fuzz_assert(id_valid(m->command_id));
		fuzz_assert(id_valid(m->execution_id));
		fuzz_assert(m->worker_id[0] == '\0' || id_valid(m->worker_id));
		fuzz_assert(m->command != NULL && m->command[0] != '\0');
		fuzz_assert(strlen(m->command) <= WF_COMMAND_MAX);
		fuzz_assert(m->step_index >= 0 && m->step_index <= WF_STEPS_MAX);
		fuzz_assert(m->timeout_ms >= 1 && m->timeout_ms <= WF_TIMEOUT_MAX);
		check_env(m);
		break;
	case MSG_CANCEL_COMMAND:
	case MSG_RESULT_ACK:
		fuzz_assert(id_valid(m->command_id));
		break;
	case MSG_EXECUTE_WORKFLOW:
		fuzz_assert(id_valid(m->execution_id));
		fuzz_assert(m->workflow_name != NULL);
		fuzz_assert(m->nsteps >= 1 && m->nsteps <= WF_STEPS_MAX);
		for (i = 0; i < m->nsteps; i++) {
			fuzz_assert(m->steps[i].name != NULL);
			switch (m->steps[i].type) {
			case WF_STEP_EXECUTE:
				fuzz_assert(m->steps[i].command != NULL &&
				    m->steps[i].command[0] != '\0');
				fuzz_assert(m->steps[i].timeout_ms >= 1 &&
				    m->steps[i].timeout_ms <= WF_TIMEOUT_MAX);
				break;
			case WF_STEP_WAIT:
				fuzz_assert(m->steps[i].duration_ms >= 0 &&
				    m->steps[i].duration_ms <= WF_DURATION_MAX);
				break;
			case WF_STEP_PROMPT:
				break;
			default:
				fuzz_assert(!"unknown step type");
			}
		}
		break;
	case MSG_PING:
	case MSG_UNKNOWN:
		break;
	default:
		fuzz_assert(!"unknown message type");
	}
}

/* The same bytes as an environment value. */
static void
config_strings(const uint8_t *data, size_t size)
{
	struct url	 u;
	char		*s, **groups, err[512];
	size_t		 n, i;

	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (proto_groups(s, &groups, &n, err, sizeof(err)) == 0) {
		fuzz_assert(n <= WORKER_GROUPS_MAX);
		for (i = 0; i < n; i++)
			fuzz_assert(strlen(groups[i]) >= 1 &&
			    strlen(groups[i]) <= WF_TARGET_MAX);
		proto_groups_free(groups, n);
	}
	if (url_parse(s, &u, err, sizeof(err)) == 0) {
		fuzz_assert(u.host != NULL && u.host[0] != '\0');
		fuzz_assert(u.port >= 1 && u.port <= 65535);
		fuzz_assert(u.path != NULL && u.path[0] == '/');
		fuzz_assert(u.hosthdr != NULL);
		url_clear(&u);
	}
	if (url_worker(s, s, &u, err, sizeof(err)) == 0)
		url_clear(&u);
	if (url_worker(s, NULL, &u, err, sizeof(err)) == 0)
		url_clear(&u);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg	 m, m2;
	char		 err[256], err2[256];
	int		 rc, rc2;

	err[0] = err2[0] = '\0';
	rc = proto_decode((const char *)data, size, &m, err, sizeof(err));
	rc2 = proto_decode((const char *)data, size, &m2, err2, sizeof(err2));
	fuzz_assert(rc == rc2);
	if (rc == 0) {
		check_msg(&m);
		fuzz_assert(m.type == m2.type && m.nsteps == m2.nsteps);
		fuzz_assert(m.nenv == m2.nenv && (m.env_error == NULL) ==
		    (m2.env_error == NULL));
		fuzz_assert(m.env_error == NULL ||
		    strcmp(m.env_error, m2.env_error) == 0);
		proto_msg_clear(&m);
		proto_msg_clear(&m2);
	} else {
		fuzz_assert(rc == -1);
		fuzz_assert(err[0] != '\0' && strcmp(err, err2) == 0);
		/* A refused message leaves nothing to free. */
		fuzz_assert(m.command == NULL && m.steps == NULL &&
		    m.workflow_name == NULL && m.env == NULL &&
		    m.env_error == NULL);
	}
	config_strings(data, size);
	return 0;
}
