#!/usr/bin/env python3
"""Untrusted input on POST/PUT /api/workflows (as admin): malformed JSON,
limits, types, definitions, content types, cross-origin requests; the
SPEC section 5 examples round-trip; unknown routes and methods."""

import json
import re
import uuid

from pulse_test import (at_end, call, check, check_status, done, error_of,
                        is_iso8601, is_json_error, is_uuid, origin,
                        prompt_step, unique)

MiB = 1024 * 1024


def wf(steps, **kw):
    d = {'name': unique('valid'), 'definition': {'steps': steps}}
    d.update(kw)
    return d


def post_raw(raw, ctype='application/json', **kw):
    return call('POST', '/api/workflows', raw=raw,
                headers={'Content-Type': ctype}, **kw)


def remember(r):
    """Delete what a request created, at the end."""
    if r[0] == 201 and isinstance(r[2], dict) and r[2].get('id'):
        wid = r[2]['id']
        at_end(lambda: call('DELETE', '/api/workflows/' + wid))


def bad(descr, r, status=400, mention=None):
    """r must be `status` with a JSON error (mentioning `mention`)."""
    check_status(descr, r, status)
    check(descr + ': JSON {"error": ...}', is_json_error(r), r[2])
    if mention:
        check('%s: error mentions %r' % (descr, mention),
              mention.lower() in error_of(r[2]).lower(), r[2])
    remember(r)


PROMPT = prompt_step('Ask')
GOOD = json.dumps(wf([PROMPT]))

# --- malformed JSON ---------------------------------------------------
bad('bad JSON', post_raw('{"name": "x", "definition": '), mention='JSON')
bad('not JSON at all', post_raw('hello'), mention='JSON')
deep = '{"a":' * 10000 + '1' + '}' * 10000
bad('JSON nested 10,000 deep',
    post_raw('{"name":"deep","definition":%s}' % deep))
bad('JSON array nested 10,000 deep',
    post_raw('{"name":"deep","definition":{"steps":%s}}'
             % ('[' * 10000 + ']' * 10000)))
bad('trailing garbage after a valid body', post_raw(GOOD + ' x'))
bad('trailing garbage {"a":1} x', post_raw('{"a":1} x'))
bad('two JSON documents', post_raw(GOOD + GOOD))
bad('a JSON array body', post_raw('[' + GOOD + ']'))
bad('empty body', post_raw(''))
bad('invalid UTF-8', post_raw(b'{"name":"\xff\xfe","definition":'
                              b'{"steps":[]}}'))

# --- wrong types and missing fields ----------------------------------
bad('name is a number', call('POST', '/api/workflows',
                             body=dict(wf([PROMPT]), name=42)),
    mention='name')
bad('name missing', call('POST', '/api/workflows',
                         body={'definition': {'steps': [PROMPT]}}),
    mention='name')
bad('name empty', call('POST', '/api/workflows',
                       body=dict(wf([PROMPT]), name='')),
    mention='name')
bad('definition is a string', call('POST', '/api/workflows',
                                   body={'name': unique('t'),
                                         'definition': '{"steps":[]}'}),
    mention='definition')
bad('definition missing', call('POST', '/api/workflows',
                               body={'name': unique('t')}),
    mention='definition')
bad('description is a number', call('POST', '/api/workflows',
                                    body=dict(wf([PROMPT]), description=7)),
    mention='description')
r = call('POST', '/api/workflows', body=wf([
    {'name': 'Run', 'type': 'execute', 'targets': ['all'],
     'command': 'true', 'timeout': '100'}]))
bad('timeout is a string', r, mention='timeout')
check('timeout is a string: step index 0 and field "timeout"',
      isinstance(r[2], dict) and r[2].get('step') == 0 and
      r[2].get('field') == 'timeout', r[2])
bad('steps is not an array',
    call('POST', '/api/workflows',
         body={'name': unique('t'), 'definition': {'steps': {}}}),
    mention='steps')
bad('empty steps', call('POST', '/api/workflows', body=wf([])),
    mention='steps')
bad('targets is a string',
    call('POST', '/api/workflows', body=wf([
        {'name': 'Run', 'type': 'execute', 'targets': 'all',
         'command': 'true'}])), mention='targets')
bad('prompt without options',
    call('POST', '/api/workflows', body=wf([
        {'name': 'Ask', 'type': 'prompt', 'message': 'Go?'}])),
    mention='options')
bad('wait with a negative duration',
    call('POST', '/api/workflows', body=wf([
        {'name': 'Nap', 'type': 'wait', 'duration': -5}])),
    mention='duration')

# --- definitions ------------------------------------------------------
r = call('POST', '/api/workflows',
         body=wf([PROMPT, {'name': 'Boom', 'type': 'explode'}]))
bad('unknown step type', r)
check('unknown step type: names step 1, field "type"',
      isinstance(r[2], dict) and r[2].get('step') == 1 and
      r[2].get('field') == 'type', r[2])
check('unknown step type: error names the step',
      'Boom' in error_of(r[2]) or '1' in error_of(r[2]), r[2])

r = call('POST', '/api/workflows', body=wf([
    PROMPT, prompt_step('Then', condition='promptResponse === ')]))
bad('bad condition', r, mention='condition')
check('bad condition: step 1, field "condition"',
      isinstance(r[2], dict) and r[2].get('step') == 1 and
      r[2].get('field') == 'condition', r[2])
check('bad condition: error gives a column',
      re.search(r'(column|col\.?|position|offset)\s*:?\s*\d+',
                error_of(r[2]), re.I) is not None, r[2])
bad('condition calling a function',
    call('POST', '/api/workflows', body=wf([
        PROMPT, prompt_step('Then', condition="process.exit(1)")])),
    mention='condition')

# --- limits -----------------------------------------------------------
big = json.dumps(dict(wf([PROMPT]), description='x' * (MiB + 16)))
r = post_raw(big)
check_status('body over 1 MiB', r, 413)
check('body over 1 MiB: JSON error', is_json_error(r), r[2])
exact = dict(wf([PROMPT]), description='')
pad = MiB - len(json.dumps(exact))
exact['description'] = 'x' * pad
body = json.dumps(exact)
r = post_raw(body)
check('body of exactly 1 MiB (%d bytes) is read, not 413' % len(body),
      len(body) == MiB and r[0] != 413, 'got %s' % r[0])
check('... and refused for its too long description (400)', r[0] == 400,
      r[2])
remember(r)

# --- content type -----------------------------------------------------
bad('text/plain', post_raw(GOOD, ctype='text/plain'), status=415)
bad('form-encoded', post_raw('name=x&definition=y',
                             ctype='application/x-www-form-urlencoded'),
    status=415)
bad('multipart', post_raw(GOOD, ctype='multipart/form-data; boundary=x'),
    status=415)
bad('no content type', post_raw(GOOD, ctype=None), status=415)
r = post_raw(json.dumps(wf([PROMPT])), ctype='application/json; '
             'charset=utf-8')
check_status('application/json; charset=utf-8 is JSON', r, 201)
remember(r)

# --- cross-origin requests (CSRF) -------------------------------------
bad('Origin: http://evil.example',
    call('POST', '/api/workflows', body=wf([PROMPT]),
         headers={'Origin': 'http://evil.example'}), status=403)
bad('Origin: null',
    call('POST', '/api/workflows', body=wf([PROMPT]),
         headers={'Origin': 'null'}), status=403)
bad('Origin with the right host on another port',
    call('POST', '/api/workflows', body=wf([PROMPT]),
         headers={'Origin': origin() + '1'}), status=403)
r = call('POST', '/api/workflows', body=wf([PROMPT]),
         headers={'Origin': origin()})
check_status('Origin: %s (our own)' % origin(), r, 201)
remember(r)
r = call('POST', '/api/workflows', body=wf([PROMPT]))
check_status('no Origin (a script)', r, 201)
remember(r)

# --- SPEC section 5: the real workflows, as written --------------------
SPEC_EXAMPLES = [
    {'steps': [
        {'name': 'Update package list', 'type': 'execute',
         'targets': ['all'], 'command': 'apt update', 'timeout': 600000},
        {'name': 'User approval', 'type': 'prompt',
         'message': 'Packages updated. Proceed with upgrade?',
         'options': ['Yes', 'No']},
        {'name': 'Upgrade packages', 'type': 'execute', 'targets': ['all'],
         'command': 'apt upgrade -y',
         'condition': "promptResponse === 'Yes'"},
        {'name': 'Wait for services', 'type': 'wait', 'duration': 10000}]},
    {'steps': [
        {'name': 'Create backup', 'type': 'execute', 'targets': ['all'],
         'command': 'tar -czf /tmp/backup-$(date +%Y%m%d).tar.gz '
                    '/opt/pulse-worker'},
        {'name': 'Wait for backup', 'type': 'wait', 'duration': 5000},
        {'name': 'Verify backup', 'type': 'execute', 'targets': ['all'],
         'command': "tar -tzf /tmp/backup-*.tar.gz > /dev/null && "
                    "echo 'OK' || echo 'FAILED'"},
        {'name': 'Cleanup decision', 'type': 'prompt',
         'message': 'Backup complete. Delete old backups?',
         'options': ['Yes', 'No']},
        {'name': 'Cleanup old backups', 'type': 'execute',
         'targets': ['all'],
         'command': "find /tmp -name 'backup-*.tar.gz' -mtime +7 -delete",
         'condition': "promptResponse === 'Yes'"}]},
    {'steps': [{'name': 'Check disk space', 'type': 'execute',
                'targets': ['all'], 'command': 'df -h'}]},
]

WF_KEYS = ('id', 'name', 'description', 'definition', 'created_by',
           'created_at', 'updated_at')
ids = []
for i, definition in enumerate(SPEC_EXAMPLES):
    name = unique('spec-example-%d' % (i + 1))
    r = call('POST', '/api/workflows',
             body={'name': name, 'description': 'SPEC example %d' % (i + 1),
                   'definition': definition})
    check_status('SPEC example %d is accepted' % (i + 1), r, 201)
    remember(r)
    d = r[2] if isinstance(r[2], dict) else {}
    check('SPEC example %d: created object has %s' % (i + 1,
                                                      ', '.join(WF_KEYS)),
          all(k in d for k in WF_KEYS), d)
    check('SPEC example %d: id is a UUID, created_by admin' % (i + 1),
          is_uuid(d.get('id')) and d.get('created_by') == 'admin', d)
    check('SPEC example %d: timestamps are ISO-8601' % (i + 1),
          is_iso8601(d.get('created_at')) and
          is_iso8601(d.get('updated_at')), d)
    if not is_uuid(d.get('id')):
        continue
    ids.append(d['id'])
    r = call('GET', '/api/workflows/' + d['id'], user='employee')
    check_status('SPEC example %d: GET /api/workflows/:id' % (i + 1), r, 200)
    g = r[2] if isinstance(r[2], dict) else {}
    check('SPEC example %d reads back identically' % (i + 1),
          g.get('definition') == definition and g.get('name') == name and
          g.get('description') == 'SPEC example %d' % (i + 1), g)

r = call('GET', '/api/workflows', user='employee')
listed = [w.get('id') for w in (r[2] if isinstance(r[2], list) else
                                (r[2] or {}).get('workflows', []))
          if isinstance(w, dict)]
check('GET /api/workflows lists the SPEC examples',
      ids and all(i in listed for i in ids), r[2])

# --- update and delete -----------------------------------------------
if ids:
    wid = ids[-1]
    before = call('GET', '/api/workflows/' + wid)[2]
    new_def = {'steps': [prompt_step('Only question',
                                     options=['A', 'B', 'C'])]}
    new_name = unique('renamed')
    r = call('PUT', '/api/workflows/' + wid,
             body={'name': new_name, 'description': 'changed',
                   'definition': new_def})
    check_status('PUT /api/workflows/:id', r, 200)
    g = call('GET', '/api/workflows/' + wid)[2]
    g = g if isinstance(g, dict) else {}
    check('PUT changed name, description and definition',
          g.get('name') == new_name and g.get('description') == 'changed'
          and g.get('definition') == new_def, g)
    check('PUT kept id, created_by and created_at',
          isinstance(before, dict) and g.get('id') == wid and
          g.get('created_by') == before.get('created_by') and
          g.get('created_at') == before.get('created_at'), [before, g])
    bad('PUT with an invalid definition',
        call('PUT', '/api/workflows/' + wid,
             body={'name': new_name,
                   'definition': {'steps': [{'name': 'x', 'type': 'nope'}]}}),
        mention='type')
    check('an invalid PUT changed nothing',
          call('GET', '/api/workflows/' + wid)[2] == g)

    r = call('DELETE', '/api/workflows/' + wid)
    check_status('DELETE /api/workflows/:id', r, 200, 204)
    if r[0] == 200:
        check('DELETE says {"deleted": true}',
              isinstance(r[2], dict) and r[2].get('deleted') is True, r[2])
    bad('GET after DELETE', call('GET', '/api/workflows/' + wid), 404)
    bad('DELETE again', call('DELETE', '/api/workflows/' + wid), 404)
    bad('PUT after DELETE',
        call('PUT', '/api/workflows/' + wid,
             body={'name': 'x', 'definition': new_def}), 404)

# --- routes, methods, ids ---------------------------------------------
bad('unknown route', call('GET', '/api/no-such-thing'), 404)
bad('unknown nested route', call('GET', '/api/workflows/%s/nope'
                                 % uuid.uuid4()), 404)
bad('PATCH /api/workflows', call('PATCH', '/api/workflows', body={}), 405)
bad('DELETE /api/workflows (the collection)',
    call('DELETE', '/api/workflows'), 405)
bad('PUT /api/executions', call('PUT', '/api/executions', body={}), 405)
bad('unknown workflow id', call('GET', '/api/workflows/%s' % uuid.uuid4()),
    404)
r = call('GET', '/api/workflows/not-a-uuid')
check_status('non-UUID workflow id', r, 404, 400)
check('non-UUID workflow id: JSON error', is_json_error(r), r[2])
r = call('GET', "/api/workflows/1'%20OR%20'1'='1")
check_status('SQL-ish workflow id', r, 404, 400)

done()
