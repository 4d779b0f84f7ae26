#!/usr/bin/env python3
"""Workflow parameters end to end (SPEC section 14, issue 14 items 2 and
7) on the real stack with the two dev workers: `params` and
`allowed_groups` checked at save (each bad key, templates, conditions);
a start's values checked before anything is created (400 naming the
parameter, no execution, no audit row); defaults; the command as stored
and as run for hostile values, by template ({{ params.v }}, single-quoted
for sh) and by env ($PULSE_PARAM_V), byte for byte, with no injection; a
condition on params; allowed_groups (403 on start and on answering,
admins always may, can_start in the list and the item)."""

import os
import uuid

from live import by_worker, online, wait_execution, wait_step
from pulse_test import (call, check, check_status, create_workflow, done,
                        error_of, have_ctl, require, sql, unique, at_end)


def save(defn, user='admin'):
    r = call('POST', '/api/workflows', user=user,
             body={'name': unique('params'), 'definition': defn})
    if r[0] == 201:
        wid = r[2]['id']
        at_end(lambda: call('DELETE', '/api/workflows/' + wid))
    return r


def step(command='true', **extra):
    s = {'name': 'Run', 'type': 'execute', 'targets': ['local-1'],
         'command': command}
    s.update(extra)
    return s


def refused(descr, defn, field, text, stepno=None):
    r = save(defn)
    check_status('save refused: %s' % descr, r, 400)
    body = r[2] if isinstance(r[2], dict) else {}
    check('... field %s' % field, body.get('field') == field, body)
    check('... message says %r' % text, text in (error_of(r[2]) or ''),
          body)
    if stepno is not None:
        check('... step %s' % stepno, body.get('step') == stepno, body)


def count(table, where):
    return int(sql('SELECT COUNT(*) FROM %s WHERE %s' % (table, where))[0][0])


require('PULSE_CTL is set (the tests read the tables)', have_ctl())
require('local-1 online', online('local-1') is not None)

# --- save ----------------------------------------------------------------
V = {'name': 'v', 'type': 'string'}
refused('params not an array', {'params': {}, 'steps': [step()]},
        'params', 'params')
refused('a name that is not an identifier',
        {'params': [{'name': '1x', 'type': 'string'}], 'steps': [step()]},
        'params[0].name', 'params[0].name')
refused('names the same upper-cased',
        {'params': [{'name': 'ab', 'type': 'string'},
                    {'name': 'AB', 'type': 'string'}], 'steps': [step()]},
        'params[1].name', 'params[1].name')
refused('an unknown type',
        {'params': [{'name': 'x', 'type': 'date'}], 'steps': [step()]},
        'params[0].type', 'params[0].type')
refused('a key of another type',
        {'params': [{'name': 'x', 'type': 'integer', 'pattern': 'a'}],
         'steps': [step()]}, 'params[0].pattern', 'params[0].pattern')
refused('a pattern that does not compile',
        {'params': [{'name': 'x', 'type': 'string', 'pattern': '(a'}],
         'steps': [step()]}, 'params[0].pattern', 'params[0].pattern')
refused('a default that fails its own pattern',
        {'params': [{'name': 'x', 'type': 'string', 'pattern': '[0-9]+',
                     'default': 'abc'}], 'steps': [step()]},
        'params[0].default', 'params[0].default')
refused('a choice without options',
        {'params': [{'name': 'x', 'type': 'choice', 'options': []}],
         'steps': [step()]}, 'params[0].options', 'params[0].options')
refused('min above max',
        {'params': [{'name': 'x', 'type': 'integer', 'min': 5, 'max': 1}],
         'steps': [step()]}, 'params[0].max', 'params[0].max')
refused('an unknown key in a parameter',
        {'params': [{'name': 'x', 'type': 'string', 'secret': True}],
         'steps': [step()]}, 'params[0].secret', 'secret')
refused('an unknown template reference',
        {'params': [V], 'steps': [step('echo {{ params.w }}')]},
        'command', "unknown parameter 'w'", 0)
refused('an unknown template root',
        {'params': [V], 'steps': [step('echo {{ env.HOME }}')]},
        'command', 'at byte 5', 0)
refused('an unterminated template',
        {'params': [V], 'steps': [step('echo {{ params.v')]},
        'command', 'at byte 5', 0)
refused('a template inside double quotes (TEMPLATE_SH)',
        {'params': [V], 'steps': [step('echo "{{ params.v }}"')]},
        'command', 'at byte 6', 0)
refused('a template inside single quotes (TEMPLATE_SH)',
        {'params': [V], 'steps': [step("echo '{{ params.v }}'")]},
        'command', 'command', 0)
refused('a prompt message naming an unknown parameter',
        {'params': [V], 'steps': [step(), {
            'name': 'Ask', 'type': 'prompt', 'message': 'Go {{ params.q }}?',
            'options': ['Yes']}]}, 'message', "unknown parameter 'q'", 1)
refused('a condition naming an unknown parameter',
        {'params': [V], 'steps': [step(condition="params.nope === 'x'")]},
        'condition', "unknown parameter 'nope'", 0)
refused('allowed_groups not an array',
        {'allowed_groups': 'ops', 'steps': [step()]}, 'allowed_groups',
        'allowed_groups')
refused('allowed_groups repeating a name',
        {'allowed_groups': ['ops', 'ops'], 'steps': [step()]},
        'allowed_groups', 'allowed_groups')
refused('allowed_groups with an empty name',
        {'allowed_groups': [''], 'steps': [step()]}, 'allowed_groups',
        'allowed_groups')
refused('allowed_groups with a name that is not a string',
        {'allowed_groups': [7], 'steps': [step()]}, 'allowed_groups',
        'allowed_groups')
refused('allowed_groups with too many names',
        {'allowed_groups': ['g%d' % i for i in range(65)],
         'steps': [step()]}, 'allowed_groups', 'allowed_groups')
refused('an unknown workflow key', {'parameters': [], 'steps': [step()]},
        'parameters', "unknown field 'parameters'")

# --- start: values checked before anything is created ------------------
TYPED = [
    {'name': 'version', 'type': 'string', 'pattern': '[0-9.]+',
     'required': True, 'max_length': 16},
    {'name': 'count', 'type': 'integer', 'min': 1, 'max': 5, 'default': 2},
    {'name': 'ratio', 'type': 'number', 'min': 0, 'max': 1},
    {'name': 'dry', 'type': 'boolean', 'default': False},
    {'name': 'env', 'type': 'choice', 'options': ['staging', 'prod'],
     'default': 'staging'},
]
r = save({'params': TYPED, 'steps': [step(
    'echo {{ params.version }} {{ params.count }} {{ params.dry }} '
    '{{ params.env }} {{ params.ratio }}')]})
check_status('save a workflow with typed parameters', r, 201)
typed = r[2]['id']


def start(wid, params=None, user='admin', raw=None, key=None):
    body = {'workflow_id': wid}
    if params is not None:
        body['params'] = params
    h = {'Idempotency-Key': key} if key else None
    return call('POST', '/api/executions', user=user, body=body, headers=h)


BAD = [
    ('missing required', {}, 'params.version'),
    ('bad type', {'version': 12}, 'params.version'),
    ('pattern', {'version': '1.0; rm -rf /'}, 'params.version'),
    ('max_length', {'version': '1' * 17}, 'params.version'),
    ('integer below min', {'version': '1', 'count': 0}, 'params.count'),
    ('integer above max', {'version': '1', 'count': 6}, 'params.count'),
    ('integer not an integer', {'version': '1', 'count': 1.5},
     'params.count'),
    ('number above max', {'version': '1', 'ratio': 1.5}, 'params.ratio'),
    ('boolean as a word', {'version': '1', 'dry': 'yes'}, 'params.dry'),
    ('choice not an option', {'version': '1', 'env': 'dev'}, 'params.env'),
    ('unknown param', {'version': '1', 'nope': 1}, 'params.nope'),
    ('NUL in a string', {'version': '1\u00002'}, 'params.version'),
]
before = count('executions', "workflow_id = '%s'" % typed)
audit_before = count('audit_log', "action = 'execution.start'")
for descr, params, field in BAD:
    r = start(typed, params)
    check_status('start refused: %s' % descr, r, 400)
    body = r[2] if isinstance(r[2], dict) else {}
    check('... field %s' % field, body.get('field') == field, body)
    check('... message begins %s: ' % field,
          (error_of(r[2]) or '').startswith(field + ': '), body)
r = start(typed, ['1.0'])
check_status('start refused: params not an object', r, 400)
check('... field params', isinstance(r[2], dict) and
      r[2].get('field') == 'params', r[2])
r = start(typed, '1.0')
check_status('start refused: params a string', r, 400)
check('nothing created by the refused starts',
      count('executions', "workflow_id = '%s'" % typed) == before)
check('no audit row for the refused starts',
      count('audit_log', "action = 'execution.start'") == audit_before)
check('a secret-looking value is never echoed',
      'rm -rf' not in str(start(typed, {'version': '1.0; rm -rf /'})[2]))

# Defaults filled, values normalised, stored and shown.
r = start(typed, {'version': '2.1', 'count': '3', 'ratio': '0.5',
                  'dry': 'true'})
check_status('start with good values (strings normalised)', r, 201)
eid = r[2]['id']
check('params in the execution JSON, normalised, defaults filled',
      r[2].get('params') == {'version': '2.1', 'count': 3, 'ratio': 0.5,
                             'dry': True, 'env': 'staging'}, r[2].get('params'))
e = wait_execution(eid)
check('it completed', e['status'] == 'completed', e)
d = by_worker(e, 0).get('local-1', {})
check('the command ran with the values',
      d.get('stdout') == '2.1 3 true staging 0.5\n', d.get('stdout'))
cmd = sql("SELECT command FROM dispatches WHERE execution_id = '%s'" % eid)
check('the dispatch stores the expanded command',
      cmd and cmd[0][0] == "echo '2.1' '3' 'true' 'staging' '0.5'", cmd)
check('the execution JSON shows the step command as it ran',
      e['steps'][0].get('command') ==
      "echo '2.1' '3' 'true' 'staging' '0.5'", e['steps'][0].get('command'))
r = start(typed, {'version': '3'})
e = wait_execution(r[2]['id'])
d = by_worker(e, 0).get('local-1', {})
check('an absent parameter expands to an empty word',
      d.get('stdout') == '3 2 false staging \n', d.get('stdout'))
check('the audit row names the params, not their values',
      count('audit_log', "action = 'execution.start' AND target_id = '%s' "
            "AND details LIKE '%%\"version\"%%' AND details NOT LIKE "
            "'%%2.1%%'" % eid) == 1)

# Idempotency: the same key with other values is another request.
key = 'params-' + str(uuid.uuid4())
r1 = start(typed, {'version': '1'}, key=key)
check_status('a keyed start', r1, 201)
r2 = start(typed, {'version': '1'}, key=key)
check('the same values again replay it', r2[0] == 201 and
      r2[2].get('id') == r1[2].get('id'), (r2[0], r2[2]))
r3 = start(typed, {'version': '2'}, key=key)
check_status('the same key with other values', r3, 422)

# --- hostile values: by template and by env, byte for byte --------------
MARK = '/tmp/pulse-params-marker-%s' % uuid.uuid4().hex
r = save({'params': [{'name': 'v', 'type': 'string',
                      'max_length': 4096}],
          'steps': [step("printf '%s' {{ params.v }}"),
                    dict(step("printf '%s' \"$PULSE_PARAM_V\""),
                         name='Env')]})
check_status('save the printf workflow', r, 201)
pf = r[2]['id']
CORPUS = [
    "it's", '"double"', "'", "''", '$(touch %s)' % MARK,
    '`touch %s`' % MARK, '; touch %s' % MARK, 'a | b && c || d & e',
    'line1\nline2\n', 'tab\there', '* ? [a-z] ~', '$HOME ${HOME} $$',
    '\\ \\\\ \\n', 'unicode: é ü 日本 🚀', ' leading and trailing ',
    '-n', '%s %d %%', '', 'x' * 2000,
]
for i, v in enumerate(CORPUS):
    r = start(pf, {'v': v})
    check_status('start with hostile value %d' % i, r, 201)
    if r[0] != 201:
        continue
    e = wait_execution(r[2]['id'])
    t = by_worker(e, 0).get('local-1', {})
    n = by_worker(e, 1).get('local-1', {})
    check('value %d by template: stdout is the value' % i,
          t.get('stdout') == v, (v[:80], t.get('stdout', '')[:80],
                                 t.get('stderr')))
    check('value %d by env: stdout is the value' % i,
          n.get('stdout') == v, (v[:80], n.get('stdout', '')[:80],
                                 n.get('stderr')))
check('no value ran a command (the marker file never appeared)',
      not os.path.exists(MARK), MARK)

# --- templates only where params are declared: version 1 is unchanged ----
r = save({'steps': [step("printf '%s' '{{.Names}} {{ params.v }}'")]})
check_status('a definition without params: "{{" is no template (v1)', r, 201)
e = wait_execution(start(r[2]['id'])[2]['id'])
check('... and runs exactly as written', by_worker(e, 0).get(
    'local-1', {}).get('stdout') == '{{.Names}} {{ params.v }}',
    by_worker(e, 0).get('local-1'))
w1 = online('local-1')
r = call('POST', '/api/workers/%s/command' % w1['id'],
         body={'command': "printf '%s' '{{x}}'", 'timeout': 10000})
check_status('a direct command holding "{{"', r, 201)
e = wait_execution(r[2]['id'])
check('... runs exactly as written', by_worker(e, 0).get(
    'local-1', {}).get('stdout') == '{{x}}', e)
r = save({'params': [], 'steps': [step(
    "printf '%s|%s' {{ execution.id }} {{execution.started_by}}")]})
check_status('"params": [] turns templates on', r, 201)
e = wait_execution(start(r[2]['id'], user='employee')[2]['id'])
check('... execution.id and execution.started_by expand',
      by_worker(e, 0).get('local-1', {}).get('stdout') ==
      '%s|employee' % e['id'], by_worker(e, 0).get('local-1'))

# --- a condition on params -----------------------------------------------
r = save({'params': [{'name': 'go', 'type': 'boolean', 'default': False}],
          'steps': [step('echo first'),
                    dict(step('echo second', condition='params.go'),
                         name='Maybe')]})
check_status('save a workflow with a condition on params.go', r, 201)
cw = r[2]['id']
e = wait_execution(start(cw)[2]['id'])
check('go false: the step is skipped',
      e['steps'][1]['status'] == 'skipped', e['steps'][1])
e = wait_execution(start(cw, {'go': True})[2]['id'])
check('go true: the step runs', e['steps'][1]['status'] == 'succeeded' and
      by_worker(e, 1).get('local-1', {}).get('stdout') == 'second\n',
      e['steps'][1])

# --- a prompt's message is expanded --------------------------------------
r = save({'params': [V], 'steps': [{
    'name': 'Ask', 'type': 'prompt', 'message': 'Deploy {{ params.v }}?',
    'options': ['Yes', 'No']}], 'allowed_groups': ['ops-only']})
check_status('save a prompt for ops-only', r, 201)
pw = r[2]['id']
r = start(pw, {'v': 'v1.2'})
check_status('admin starts a workflow outside its groups', r, 201)
peid = r[2]['id']
e = wait_step(peid, 0, ('waiting',))
check('the prompt message is expanded',
      (e.get('prompt') or {}).get('message') == "Deploy 'v1.2'?",
      e.get('prompt'))

# --- allowed_groups ------------------------------------------------------
before = count('executions', "workflow_id = '%s'" % pw)
r = start(pw, {'v': 'x'}, user='employee')
check_status('employee outside allowed_groups: start refused', r, 403)
check('... field allowed_groups', isinstance(r[2], dict) and
      r[2].get('field') == 'allowed_groups', r[2])
check('... says who may', 'only members of ops-only may start'
      in (error_of(r[2]) or ''), r[2])
check('... nothing created',
      count('executions', "workflow_id = '%s'" % pw) == before)
r = call('POST', '/api/executions/%s/respond' % peid, user='employee',
         body={'response': 'Yes'})
check_status('employee outside allowed_groups: answer refused', r, 403)
check('... field allowed_groups', isinstance(r[2], dict) and
      r[2].get('field') == 'allowed_groups', r[2])
r = call('POST', '/api/executions/%s/respond' % peid, user='admin',
         body={'response': 'No'})
check_status('admin answers', r, 200)

for who, want in (('employee', False), ('admin', True)):
    r = call('GET', '/api/workflows', user=who)
    row = [w for w in r[2] if w['id'] == pw] if r[0] == 200 else []
    check('list: can_start for %s is %s' % (who, want),
          len(row) == 1 and row[0].get('can_start') is want, row)
    r = call('GET', '/api/workflows/' + pw, user=who)
    check('item: can_start for %s is %s' % (who, want),
          r[0] == 200 and r[2].get('can_start') is want, r[2])
r = save({'allowed_groups': ['employee', 'ops'], 'steps': [step()]})
check_status('save a workflow for employee and ops', r, 201)
ew = r[2]['id']
r = call('GET', '/api/workflows/' + ew, user='employee')
check('a member: can_start true', r[0] == 200 and
      r[2].get('can_start') is True, r[2])
r = start(ew, user='employee')
check_status('a member of allowed_groups starts it', r, 201)
r = call('GET', '/api/workflows/' + typed, user='employee')
check('no allowed_groups: can_start true for anyone', r[0] == 200 and
      r[2].get('can_start') is True, r[2])

done()
