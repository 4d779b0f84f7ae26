#!/usr/bin/env python3
"""Prompts accept exactly one answer, and only one of their options
(DESIGN section 8, rule 8):
  - an answer that is not one of the options, however close (case,
    spaces, homoglyphs, NUL, types, length), is 400 and changes nothing;
  - a second answer is 409, and says which answer was recorded and who
    gave it; 20 concurrent answers: one 200, nineteen 409;
  - an answer to a finished (completed, cancelled) execution is 409;
    to an unknown one 404; to a step that is not a waiting prompt 409/400.
"""

import threading
import uuid

import seclib  # noqa: F401 (puts tests/integration on sys.path)
from live import wait_execution
from pulse_test import (call, check, create_workflow, done, prompt_step,
                        require, start_execution)

wf = create_workflow('prompts', [
    prompt_step('Ask', 'Go on?', ('Yes', 'No')),
    {'name': 'Pause', 'type': 'wait', 'duration': 600000}])
require('fixture: a prompt workflow', wf is not None)
one = create_workflow('prompts-one', [prompt_step('Only', 'Sure?',
                                                  ('Yes', 'No'))])
require('fixture: a one-prompt workflow', one is not None)


def respond(eid, body, user='admin', raw=None):
    return call('POST', '/api/executions/%s/respond' % eid, user=user,
                body=body, raw=raw)


def state(eid):
    e = call('GET', '/api/executions/' + eid)[2]
    s = e['steps'][0] if e.get('steps') else {}
    return e.get('status'), s.get('status'), s.get('response'), \
        s.get('responded_by')


ex = start_execution(wf['id'])
require('execution started', ex is not None)
EID = ex['id']
require('it waits at the prompt', state(EID)[0] == 'waiting', state(EID))
before = state(EID)

NOT_OPTIONS = [
    ('lower case', {'response': 'yes'}),
    ('upper case', {'response': 'YES'}),
    ('trailing space', {'response': 'Yes '}),
    ('leading space', {'response': ' Yes'}),
    ('empty', {'response': ''}),
    ('another word', {'response': 'Maybe'}),
    ('NUL after the option', {'response': 'Yes\u0000'}),
    ('Greek capital upsilon', {'response': '\u03a5es'}),
    ('zero-width space', {'response': 'Yes\u200b'}),
    ('both options', {'response': 'Yes,No'}),
    ('a number', {'response': 1}),
    ('true', {'response': True}),
    ('null', {'response': None}),
    ('an array', {'response': ['Yes']}),
    ('an object', {'response': {'Yes': 1}}),
    ('300 characters', {'response': 'Y' * 300}),
    ('missing', {}),
    ('an unknown field too', {'response': 'Yes', 'admin': True}),
    ('step is a string', {'response': 'Yes', 'step': '0'}),
    ('step out of range', {'response': 'Yes', 'step': 10 ** 6}),
    ('step negative', {'response': 'Yes', 'step': -1}),
]
for label, body in NOT_OPTIONS:
    r = respond(EID, body)
    check('answer %s -> 400' % label, r[0] == 400,
          'got %s %s' % (r[0], r[2]))
r = respond(EID, None, raw='{"response":"Yes","response":"Nope"}')
check('duplicate key ending in a non-option -> 400', r[0] == 400,
      'got %s %s' % (r[0], r[2]))
r = respond(EID, {'response': 'Yes', 'step': 1})
check('answer for step 1 (a wait, not a prompt) -> 400 or 409',
      r[0] in (400, 409), 'got %s %s' % (r[0], r[2]))
check('after all that the prompt still waits, unanswered',
      state(EID) == before, [before, state(EID)])

r = respond(EID, {'response': 'Yes'}, user='employee')
check('a real option -> 200', r[0] == 200, r)
check('recorded: Yes, by employee',
      state(EID)[2:] == ('Yes', 'employee'), state(EID))

for label, body, user in (
        ('same answer again', {'response': 'Yes'}, 'employee'),
        ('the other option', {'response': 'No'}, 'admin'),
        ('for step 0 explicitly', {'response': 'No', 'step': 0}, 'admin')):
    r = respond(EID, body, user=user)
    check('second answer (%s) -> 409' % label, r[0] == 409,
          'got %s %s' % (r[0], r[2]))
    a = r[2].get('answered') if isinstance(r[2], dict) else None
    if body.get('step') == 0:
        check('the 409 says what was answered and by whom',
              isinstance(a, dict) and a.get('response') == 'Yes' and
              a.get('responded_by') == 'employee', r[2])
check('the recorded answer did not change',
      state(EID)[2:] == ('Yes', 'employee'), state(EID))

# Twenty answers at once: one wins, the rest are told so.
ex2 = start_execution(wf['id'])
require('second execution started', ex2 is not None)
E2 = ex2['id']
results = [None] * 20
go = threading.Event()


def answer(i):
    go.wait()
    results[i] = respond(E2, {'response': 'Yes' if i % 2 else 'No'},
                         user='admin' if i % 3 else 'employee')


threads = [threading.Thread(target=answer, args=(i,)) for i in range(20)]
for t in threads:
    t.start()
go.set()
for t in threads:
    t.join(60)
codes = sorted(r[0] for r in results if r is not None)
check('20 concurrent answers: exactly one 200, nineteen 409',
      codes == [200] + [409] * 19, codes)
winner = [i for i, r in enumerate(results) if r and r[0] == 200]
st = state(E2)
if winner:
    i = winner[0]
    check('the recorded answer is the one that got 200',
          st[2] == ('Yes' if i % 2 else 'No') and
          st[3] == ('admin' if i % 3 else 'employee'), [i, st])

# Finished executions take no answer.
ex3 = start_execution(one['id'])
require('one-prompt execution started', ex3 is not None)
require('answered', respond(ex3['id'], {'response': 'No'})[0] == 200)
e = wait_execution(ex3['id'], timeout=60)
require('it completed', e and e['status'] == 'completed', e)
for body in ({'response': 'No'}, {'response': 'Yes'},
             {'response': 'Yes', 'step': 0}):
    r = respond(ex3['id'], body)
    check('answer %s to a completed execution -> 409' % body, r[0] == 409,
          'got %s %s' % (r[0], r[2]))

ex4 = start_execution(one['id'])
require('execution to cancel started', ex4 is not None)
require('cancelled', call('POST', '/api/executions/%s/cancel' % ex4['id'],
                          body={})[0] == 200)
r = respond(ex4['id'], {'response': 'Yes'})
check('answer to a cancelled execution -> 409', r[0] == 409,
      'got %s %s' % (r[0], r[2]))
check('... and it stays cancelled, unanswered',
      state(ex4['id'])[0] == 'cancelled' and state(ex4['id'])[2] is None,
      state(ex4['id']))

r = respond(str(uuid.uuid4()), {'response': 'Yes'})
check('answer to an unknown execution -> 404', r[0] == 404, r)
r = respond('not-a-uuid', {'response': 'Yes'})
check('answer to a malformed id -> 404', r[0] == 404, r)

for eid in (EID, E2):
    call('POST', '/api/executions/%s/cancel' % eid, body={})
done()
