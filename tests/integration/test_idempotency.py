#!/usr/bin/env python3
"""Idempotency-Key on POST /api/executions: a retried start returns the
execution the first request created (201, Idempotent-Replayed: true) and
never starts a second one, also when the copies arrive at once; the same
key with another workflow is 422; keys are per user, checked (400 naming
the header), recorded only with their execution, and forgotten after 24
hours. And /respond: a retried answer gets a 409 that says which answer
was recorded and by whom; with "step" it can never answer the next prompt.
"""

import threading
import uuid

from pulse_test import (call, check, check_status, create_workflow, done,
                        error_of, have_ctl, prompt_step, require, sql,
                        wait_for)

KEY = 'Idempotency-Key'


def start(wid, key, user='admin'):
    h = {KEY: key} if key is not None else None
    return call('POST', '/api/executions', user=user,
                body={'workflow_id': wid}, headers=h)


def eid(r):
    return r[2].get('id') if isinstance(r[2], dict) else None


def count_executions(wid):
    return int(sql("SELECT COUNT(*) FROM executions WHERE workflow_id = '%s'"
                   % wid)[0][0])


def key_rows(key):
    return int(sql("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key "
                   "= '%s'" % key)[0][0])


require('PULSE_CTL is set (the tests read the tables)', have_ctl())
wf = create_workflow('idem', [prompt_step('Ask')])
wf2 = create_workflow('idem-other', [prompt_step('Ask')])
require('two workflows', wf is not None and wf2 is not None)
wid, wid2 = wf['id'], wf2['id']

# --- a replay ------------------------------------------------------------
key = 'start-' + str(uuid.uuid4())
r1 = start(wid, key)
check_status('first start with a key', r1, 201)
check('... is not marked as a replay',
      r1[1].get('Idempotent-Replayed') is None,
      r1[1].get('Idempotent-Replayed'))
r2 = start(wid, key)
check_status('the same request again', r2, 201)
check('... returns the same execution', eid(r2) == eid(r1) is not None,
      (eid(r1), eid(r2)))
check('... marked Idempotent-Replayed: true',
      r2[1].get('Idempotent-Replayed') == 'true',
      r2[1].get('Idempotent-Replayed'))
check('... with the execution as it is now (waiting for its prompt)',
      isinstance(r2[2], dict) and r2[2].get('status') == 'waiting', r2[2])
check('one execution in the database, not two', count_executions(wid) == 1,
      count_executions(wid))
check('one key row, naming that execution',
      sql("SELECT execution_id FROM idempotency_keys WHERE idem_key = '%s'"
          % key) == [[eid(r1)]])

r = start(wid2, key)
check_status('the same key with another workflow', r, 422)
check('... names the header', isinstance(r[2], dict) and
      r[2].get('field') == KEY, r[2])
check('... and started nothing', count_executions(wid2) == 0)

r = start(wid, key, user='employee')
check_status("the same key from another user is that user's own", r, 201)
check('... a new execution', eid(r) not in (None, eid(r1)), eid(r))
check('... not a replay', r[1].get('Idempotent-Replayed') is None)

r = start(wid, None)
check_status('without a key every start is new', r, 201)
check('... a new execution', eid(r) not in (None, eid(r1)))

# --- bad keys -------------------------------------------------------------
for descr, bad in (('an empty key', ''), ('256 characters', 'k' * 256),
                   ('a space inside', 'a b'), ('a tab inside', 'a\tb'),
                   ('non-ASCII', 'cl\u00e9'.encode('utf-8').decode('latin-1'))):
    before = count_executions(wid)
    r = start(wid, bad)
    check_status('Idempotency-Key with %s' % descr, r, 400)
    check('... the error names the header', isinstance(r[2], dict) and
          r[2].get('field') == KEY and KEY in (error_of(r[2]) or ''), r[2])
    check('... and nothing started', count_executions(wid) == before)
longest = 'K' * 255
r = start(wid, longest)
check_status('a key of 255 characters is fine', r, 201)
check('... and replays', eid(start(wid, longest)) == eid(r))

# --- a failed request records no key --------------------------------------
k404 = 'nf-' + uuid.uuid4().hex
r = start(str(uuid.uuid4()), k404)
check_status('a start of a missing workflow with a key', r, 404)
check('... records no key', key_rows(k404) == 0)
r = start(wid, k404)
check_status('... so the key is still free for a good request', r, 201)

# --- the copies arrive at once --------------------------------------------
kc = 'race-' + uuid.uuid4().hex
before = count_executions(wid)
results = [None] * 8
go = threading.Barrier(len(results))


def racer(i):
    go.wait()
    results[i] = start(wid, kc)


threads = [threading.Thread(target=racer, args=(i,))
           for i in range(len(results))]
for t in threads:
    t.start()
for t in threads:
    t.join()
codes = [x[0] for x in results]
ids = {eid(x) for x in results}
check('8 simultaneous starts with one key: all 201', codes == [201] * 8,
      codes)
check('... all name one execution', len(ids) == 1 and None not in ids, ids)
check('... exactly one was not a replay',
      sum(1 for x in results if x[1].get('Idempotent-Replayed') is None)
      == 1, [x[1].get('Idempotent-Replayed') for x in results])
check('... one execution was created', count_executions(wid) == before + 1,
      count_executions(wid) - before)

# --- expiry ---------------------------------------------------------------
ko = 'old-' + uuid.uuid4().hex
r = start(wid, ko)
sql("UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL 25 HOUR "
    "WHERE idem_key = '%s'" % ko)
r2 = start(wid, ko)
check_status('a key older than 24 hours is forgotten', r2, 201)
check('... its reuse starts a new execution',
      eid(r2) not in (None, eid(r)) and
      r2[1].get('Idempotent-Replayed') is None, (eid(r), eid(r2)))
ks = 'sweep-' + uuid.uuid4().hex
sql("INSERT INTO idempotency_keys (username, idem_key, request, created_at) "
    "VALUES ('admin', '%s', '%s', NOW(3) - INTERVAL 25 HOUR)" % (ks, wid))
check('the retention sweep deletes keys older than 24 hours',
      wait_for(lambda: key_rows(ks) == 0, 60, 1))
check('... and keeps younger ones', key_rows(kc) == 1)

# --- a retried answer -----------------------------------------------------
e = eid(r1)
path = '/api/executions/%s/respond' % e
r = call('POST', path, body={'response': 'Yes', 'step': 0})
check_status('answer the prompt (step 0)', r, 200)
r = call('POST', path, body={'response': 'Yes', 'step': 0})
check_status('the same answer again, as after a lost response', r, 409)
a = r[2].get('answered') if isinstance(r[2], dict) else None
check('... the 409 says the recorded answer and who gave it',
      isinstance(a, dict) and a.get('step') == 0 and
      a.get('response') == 'Yes' and a.get('responded_by') == 'admin' and
      a.get('name') == 'Ask', r[2])
r = call('POST', path, body={'response': 'No'})
check_status('another answer without a step', r, 409)
a = r[2].get('answered') if isinstance(r[2], dict) else None
check('... says the last recorded answer', isinstance(a, dict) and
      a.get('response') == 'Yes', r[2])

two = create_workflow('idem-two', [prompt_step('First'),
                                   prompt_step('Second')])
require('a two-prompt workflow', two is not None)
e2 = eid(start(two['id'], None))
path = '/api/executions/%s/respond' % e2
check_status('answer the first of two prompts',
             call('POST', path, body={'response': 'No', 'step': 0}), 200)
r = call('POST', path, user='employee', body={'response': 'No', 'step': 0})
check_status('a retry of it with "step": 0 while the second waits', r, 409)
a = r[2].get('answered') if isinstance(r[2], dict) else None
check('... says step 0 has "No" from admin', isinstance(a, dict) and
      a.get('step') == 0 and a.get('response') == 'No' and
      a.get('responded_by') == 'admin', r[2])
st = sql("SELECT status, response FROM execution_steps WHERE "
         "execution_id = '%s' ORDER BY step_index" % e2)
check('... and did not answer the second prompt',
      st == [['succeeded', 'No'], ['waiting', 'NULL']], st)
# Step indexes are flat (a group's steps after it, on_failure steps after
# the main ones): 2 * 256 * (16 + 1) of them at most.
for bad in (-1, 8704, '0', 1.5):
    r = call('POST', path, body={'response': 'Yes', 'step': bad})
    check_status('"step": %r is refused' % (bad,), r, 400)
r = call('POST', path, body={'response': 'Yes', 'step': 256})
check_status('"step": 256, a step that is not the one waiting: 409', r, 409)
r = call('POST', path, body={'response': 'Yes', 'step': 1})
check_status('the second prompt with "step": 1', r, 200)

# Deleting the workflow takes its executions and their keys; one with an
# unfinished execution is refused (409), so those are cancelled first.
for (eid,) in sql("SELECT id FROM executions WHERE workflow_id = '%s' AND "
                  "status IN ('running', 'waiting')" % wid):
    call('POST', '/api/executions/%s/cancel' % eid, body={})
r = call('DELETE', '/api/workflows/' + wid)
check('deleting the workflow (200) deletes its keys',
      r[0] == 200 and key_rows(key) == 0, (r[0], key_rows(key)))

done()
