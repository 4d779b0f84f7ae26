#!/usr/bin/env python3
"""Data never becomes code (SPEC section 5, DESIGN sections 5 and 6):
  - prompt answers full of shell syntax, used by later steps' conditions
    (promptResponse and state.responses) and visible in `state`, run on a
    real worker: the conditions see the exact text, the commands run as
    written, and the `touch` inside the answers never happens; the same
    for a step's output read by a later condition;
  - condition payloads from the JavaScript attacker's book (constructor,
    __proto__, calls, assignments, template literals, new, this, ...)
    are parse errors when the workflow is saved: 400 naming the step and
    the condition, and pulse-api keeps serving;
  - SQL-looking names, ids and query parameters are data.
"""

import json
import os
import uuid

import seclib  # noqa: F401 (puts tests/integration on sys.path)
from live import execute, online, wait_execution
from pulse_test import (at_end, call, check, create_workflow, done,
                        prompt_step, require, start_execution,
                        unique)

tag = uuid.uuid4().hex[:8]
PWN = '/tmp/pulse-pwned-%s' % tag


def pwned():
    return sorted(f for f in os.listdir('/tmp')
                  if f.startswith('pulse-pwned-%s' % tag))


def js(s):
    """s as a double-quoted JavaScript string literal (JSON's escapes are
    JavaScript's)."""
    return json.dumps(s)


ANSWERS = [
    "'; touch %s-1 #" % PWN,
    '$(touch %s-2)' % PWN,
    '`touch %s-3`' % PWN,
    '"; touch %s-4; echo "' % PWN,
    '|| touch %s-5 &&' % PWN,
    "\n touch %s-6\n" % PWN,
    '${IFS}touch${IFS}%s-7' % PWN,
]
require('local-1 online', online('local-1', 60) is not None)

# --- answers and output reach conditions, never a shell --------------------
for i, answer in enumerate(ANSWERS):
    wf = create_workflow('inject', [
        prompt_step('Ask', 'Pick one', [answer, 'Safe']),
        execute('Echo', "echo 'answer seen'", ['local-1'],
                condition='promptResponse === %s' % js(answer)),
        execute('Again', "echo '$(touch %s-out-%d)'" % (PWN, i),
                ['local-1'],
                condition='state.responses.Ask === %s && '
                          'state.steps[1].status === "succeeded"'
                          % js(answer)),
        execute('Reads output', 'echo output-seen', ['local-1'],
                condition="state.steps[2].stdout.includes('touch')"),
    ])
    require('workflow %d with a shell-syntax option saved' % i,
            wf is not None)
    ex = start_execution(wf['id'])
    require('execution %d started' % i, ex is not None)
    r = call('POST', '/api/executions/%s/respond' % ex['id'],
             body={'response': answer})
    check('answer %r accepted (it is an option)' % answer, r[0] == 200, r)
    e = wait_execution(ex['id'], timeout=120)
    steps = e.get('steps', []) if e else []
    check('execution %d completed' % i, e and e['status'] == 'completed',
          e)
    check('the answer is stored exactly',
          steps and steps[0].get('response') == answer,
          steps[0] if steps else e)
    outs = [((s.get('dispatches') or [{}])[0]).get('stdout')
            for s in steps[1:]]
    check('conditions saw the exact answer (promptResponse, '
          'state.responses) and the earlier output: all three steps ran',
          outs == ['answer seen\n', '$(touch %s-out-%d)\n' % (PWN, i),
                   'output-seen\n'], outs)
    check('no file was touched by answer %d' % i, pwned() == [], pwned())

# The other option takes the other branch: the condition is real.
wf = create_workflow('inject-safe', [
    prompt_step('Ask', 'Pick one', [ANSWERS[0], 'Safe']),
    execute('Echo', "echo 'answer seen'", ['local-1'],
            condition='promptResponse === %s' % js(ANSWERS[0]))])
ex = start_execution(wf['id'])
call('POST', '/api/executions/%s/respond' % ex['id'],
     body={'response': 'Safe'})
e = wait_execution(ex['id'], timeout=60)
check('answering Safe skips the step whose condition wants the payload',
      e and e['status'] == 'completed' and
      e['steps'][1]['status'] == 'skipped', e)
check('still no file touched', pwned() == [], pwned())

# --- condition payloads are parse errors -----------------------------------
PAYLOADS = [
    "constructor.constructor('return process')()",
    "promptResponse.constructor.constructor('touch %s-c')()" % PWN,
    'promptResponse.constructor',
    "state['constructor']",
    'state.__proto__',
    "state['__proto__'].polluted === 1",
    'promptResponse.__proto__ === null',
    'state.prototype',
    "state['proto' + 'type']",
    "alert(1)",
    "require('child_process').exec('touch %s-c')" % PWN,
    'process.exit(1)',
    "eval('1')",
    "Function('return 1')()",
    "(function () { return 1 })()",
    '(() => 1)()',
    'promptResponse.toString()',
    "promptResponse.replace('a', 'b')",
    "promptResponse.includes.call('x', 'y')",
    "promptResponse.trim()()",
    "promptResponse = 'Yes'",
    "state.x = 1",
    "promptResponse += 'x'",
    'promptResponse++',
    '--promptResponse',
    "promptResponse ||= 'Yes'",
    "promptResponse ??= 'Yes'",
    '`${1}`',
    '`touch %s-c`' % PWN,
    "promptResponse === `Yes`",
    'new Date()',
    'this',
    'delete state.x',
    'typeof state',
    'void 0',
    "'x' in state",
    "promptResponse instanceof Object",
    '1, 2',
    'true; false',
    "/Yes/.test(promptResponse)",
    "import('fs')",
    'await promptResponse',
    "promptResponse ? 'a' : 'b'",
    "promptResponse ?? 'x'",
    'promptResponse?.length',
    '[...state]',
    "['Yes'].includes(promptResponse)",
    '({}).x',
    'x => x',
    '(' * 100 + 'true' + ')' * 100,
    '!' * 5000 + 'true',
    "'" + 'x' * 5000 + "'",
    "'unterminated",
    "'\\u{110000}'",
    'promptResponse === "a\\',
    '\u0000',
]
for p in PAYLOADS:
    r = call('POST', '/api/workflows', body={
        'name': unique('inject-cond'),
        'definition': {'steps': [
            prompt_step('Ask'),
            execute('Run', 'touch %s-cond' % PWN, ['local-1'],
                    condition=p)]}})
    short = p if len(p) < 60 else p[:40] + '...(%d chars)' % len(p)
    ok = r[0] == 400 and isinstance(r[2], dict) and \
        r[2].get('field') == 'condition' and r[2].get('step') == 1
    check('condition %r is refused: 400, step 1, field condition' % short,
          ok, 'got %s %s' % (r[0], r[2]))
    if r[0] == 201:
        at_end(lambda i=r[2]['id']: call('DELETE', '/api/workflows/' + i))
check('pulse-api still answers after the payloads',
      call('GET', '/health', user=None)[0] == 200)
check('no payload touched a file', pwned() == [], pwned())

# Names other than promptResponse and state parse (as JavaScript's would)
# but name nothing: evaluating one is an error, which skips the step.
wf = create_workflow('inject-ident', [
    execute('Run %d' % i, 'touch %s-ident-%d' % (PWN, i), ['local-1'],
            condition=c)
    for i, c in enumerate(('globalThis', 'window', 'process', 'require',
                           'global.process', 'Object'))])
require('a workflow with unknown names in conditions is saved',
        wf is not None)
ex = start_execution(wf['id'])
e = wait_execution(ex['id'], timeout=60) if ex else None
check('every step whose condition names an unknown variable is skipped',
      e and e['status'] == 'completed' and
      all(s['status'] == 'skipped' for s in e['steps']), e)
check('... and says why', e and all(
      'unknown identifier' in (s.get('reason') or '') for s in e['steps']),
      [s.get('reason') for s in e['steps']] if e else e)
check('... and touched nothing', pwned() == [], pwned())

# --- SQL-looking data is data ------------------------------------------------
evil = "x'); DROP TABLE workflows; -- \\' \" %s" % tag
wf = create_workflow('inject-sql', [prompt_step('Ask', evil, [evil, 'b'])],
                     description=evil)
require('a workflow with SQL in its texts is saved', wf is not None)
got = call('GET', '/api/workflows/' + wf['id'])[2]
check('name, description, message and option read back exactly',
      got.get('description') == evil and
      got['definition']['steps'][0]['message'] == evil and
      got['definition']['steps'][0]['options'][0] == evil, got)
for q in ("limit=1%20OR%201=1", "before=x'%20OR%20'1'='1",
          "limit=-1", "limit=99999999999999999999", "before=%00"):
    r = call('GET', '/api/executions?' + q)
    check('GET /api/executions?%s -> 400' % q, r[0] == 400,
          'got %s %s' % (r[0], str(r[2])[:200]))
for path in ("/api/workflows/1'%20OR%20'1'='1",
             '/api/executions/%27%3B%20DROP%20TABLE%20executions%3B--',
             '/api/workflows/' + '0' * 36):
    r = call('GET', path)
    check('GET %s -> 404' % path, r[0] == 404, r)
check('the workflows table is still there',
      call('GET', '/api/workflows')[0] == 200)
done()
