#!/usr/bin/env python3
"""GET /api/openapi.json: an OpenAPI 3 document that describes exactly the
route table of fcgi-api/router.c (each (method, path) in one is in the
other, `:id` <-> `{id}`), and whose documented responses include what real
calls answer."""

import os
import re
import uuid

import pulse_test
from pulse_test import (call, check, check_status, done, error_of, require,
                        unique)

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTER = os.path.join(HERE, '..', '..', 'fcgi-api', 'router.c')
METHODS = ('get', 'put', 'post', 'delete', 'patch', 'head', 'options',
           'trace')
# POSTs that take no body (only the JSON Content-Type, against CSRF).
BODILESS = {('POST', '/api/executions/{id}/cancel'),
            ('POST', '/api/workers/{id}/revoke'),
            ('POST', '/api/workers/{id}/rotate'),
            ('POST', '/api/channels/{id}/test'),
            ('POST', '/api/notifications/{id}/retry'),
            ('POST', '/api/triggers/{id}/rotate')}


def route_table_doc(path):
    """(METHOD, /path/{param}) for each row of `routes[]` in router.c."""
    rows = pulse_test.route_table(path)
    if rows is None:
        return None
    return {(meth, re.sub(r':([A-Za-z_][A-Za-z0-9_]*)', r'{\1}', pat))
            for meth, pat in rows}


r = call('GET', '/api/openapi.json', user='employee')
check_status('GET /api/openapi.json as an employee', r, 200)
check('it is served as JSON',
      'application/json' in r[1].get('Content-Type', ''),
      r[1].get('Content-Type'))
doc = r[2]
require('the document is a JSON object', isinstance(doc, dict), doc)

check('"openapi" is 3.x', isinstance(doc.get('openapi'), str) and
      re.match(r'^3\.\d+\.\d+$', doc['openapi']) is not None,
      doc.get('openapi'))
info = doc.get('info')
check('"info" has title and version', isinstance(info, dict) and
      isinstance(info.get('title'), str) and
      isinstance(info.get('version'), str), info)
paths = doc.get('paths')
require('"paths" is an object', isinstance(paths, dict), type(paths))
comp = doc.get('components')
require('"components" is an object', isinstance(comp, dict), type(comp))
schemes = comp.get('securitySchemes', {})
check('security scheme "sso": apiKey in header Remote-User',
      schemes.get('sso', {}).get('type') == 'apiKey' and
      schemes['sso'].get('in') == 'header' and
      schemes['sso'].get('name') == 'Remote-User', schemes.get('sso'))
check('security scheme "workerKey": apiKey in header X-API-Key',
      schemes.get('workerKey', {}).get('type') == 'apiKey' and
      schemes['workerKey'].get('in') == 'header' and
      schemes['workerKey'].get('name') == 'X-API-Key',
      schemes.get('workerKey'))
err = comp.get('schemas', {}).get('Error', {})
check('schema Error requires "error", has "field" and "step"',
      'error' in err.get('required', []) and
      {'error', 'field', 'step'} <= set(err.get('properties', {})), err)


# --- every $ref resolves --------------------------------------------------

def resolve(ref):
    if not ref.startswith('#/'):
        return None
    node = doc
    for part in ref[2:].split('/'):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get('$ref'), str):
            out.append(node['$ref'])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)
    return out


bad = sorted({x for x in refs(doc, []) if resolve(x) is None})
check('every $ref resolves inside the document', not bad, bad)


def deref(node):
    while isinstance(node, dict) and '$ref' in node:
        node = resolve(node['$ref'])
    return node


# --- the route table and the document describe the same API -------------

table = route_table_doc(ROUTER)
require('routes[] parsed from fcgi-api/router.c', table, ROUTER)
documented = set()
for p, item in paths.items():
    if not isinstance(item, dict):
        continue
    for meth in item:
        if meth in METHODS:
            documented.add((meth.upper(), p))
missing = sorted(table - documented)
extra = sorted(documented - table)
check('every route in routes[] is in the document (%d routes)' % len(table),
      not missing, 'not documented: %s' % missing)
check('every operation in the document is in routes[] (%d operations)'
      % len(documented), not extra, 'no such route: %s' % extra)
check('GET /api/openapi.json documents itself',
      ('GET', '/api/openapi.json') in documented, sorted(documented))

# Path parameters: each {name} in a path is declared, and nothing else.
for p, item in sorted(paths.items()):
    want = set(re.findall(r'\{([^}]+)\}', p))
    for meth, op in item.items():
        if meth not in METHODS:
            continue
        params = [deref(x) for x in item.get('parameters', []) +
                  op.get('parameters', [])]
        have = {x.get('name') for x in params
                if isinstance(x, dict) and x.get('in') == 'path'}
        check('%s %s declares its path parameters' % (meth.upper(), p),
              have == want and all(x.get('required') is True for x in params
                                   if isinstance(x, dict) and
                                   x.get('in') == 'path'),
              'declared %s, path has %s' % (sorted(have), sorted(want)))
        resp = op.get('responses')
        ok2xx = isinstance(resp, dict) and any(str(c).startswith('2')
                                               for c in resp)
        check('%s %s documents a 2xx response' % (meth.upper(), p), ok2xx,
              resp)
        if meth in ('post', 'put') and (meth.upper(), p) not in BODILESS:
            rb = deref(op.get('requestBody'))
            check('%s %s documents its JSON request body' % (meth.upper(), p),
                  isinstance(rb, dict) and
                  'application/json' in rb.get('content', {}), rb)


# --- real answers are documented ----------------------------------------

def documented_statuses(method, path):
    op = paths.get(path, {}).get(method.lower(), {})
    return {str(c) for c in op.get('responses', {})}


def agrees(descr, method, doc_path, real_path, expect, **kw):
    """Call real_path; the answer must be `expect`, and documented for
    (method, doc_path) with a JSON error body when it is an error."""
    r = call(method, real_path, **kw)
    st = str(r[0])
    ok = check_status(descr, r, expect)
    if r[0] >= 400:
        check('%s: JSON error body' % descr, bool(error_of(r[2])), r[2])
    have = documented_statuses(method, doc_path)
    check('%s: %s is documented for %s %s' % (descr, st, method, doc_path),
          st in have, 'documented: %s' % sorted(have))
    return ok and r


rid = str(uuid.uuid4())
agrees('GET a random workflow id', 'GET', '/api/workflows/{id}',
       '/api/workflows/' + rid, 404)
agrees('GET a random execution id', 'GET', '/api/executions/{id}',
       '/api/executions/' + rid, 404)
agrees('DELETE a random worker id', 'DELETE', '/api/workers/{id}',
       '/api/workers/' + rid, 404)
agrees('cancel a random execution id', 'POST', '/api/executions/{id}/cancel',
       '/api/executions/%s/cancel' % rid, 404,
       headers={'Content-Type': 'application/json'})
agrees('POST a workflow with a misspelt field', 'POST', '/api/workflows',
       '/api/workflows', 400,
       body={'name': unique('oapi'), 'definition': {'steps': [
           {'name': 'a', 'type': 'execute', 'targets': ['all'],
            'comand': 'true'}]}})
agrees('POST a workflow without Content-Type', 'POST', '/api/workflows',
       '/api/workflows', 415, raw='{}', headers={'Content-Type': None})
agrees('POST a workflow as an employee', 'POST', '/api/workflows',
       '/api/workflows', 403, user='employee',
       body={'name': 'x', 'definition': {'steps': []}})
agrees('GET /api/user as a user without a role', 'GET', '/api/user',
       '/api/user', 403, user='outsider')
agrees('start an execution of a random workflow', 'POST', '/api/executions',
       '/api/executions', 404, body={'workflow_id': rid})
agrees('GET /api/executions?limit=0', 'GET', '/api/executions',
       '/api/executions?limit=0', 400)
agrees('heartbeat without a key', 'POST', '/api/workers/heartbeat',
       '/api/workers/heartbeat', 401, user=None,
       body={'worker_id': rid, 'name': 'x'})
r = call('PATCH', '/api/workflows', body={})
check_status('PATCH /api/workflows', r, 405)
check('405 is documented for every operation of /api/workflows',
      all('405' in documented_statuses(m, '/api/workflows')
          for m in ('GET', 'POST')), paths.get('/api/workflows'))

# A respond with nothing pending: 409, documented.
wf = call('POST', '/api/workflows', body={
    'name': unique('oapi'), 'definition': {'steps': [
        {'name': 'w', 'type': 'wait', 'duration': 0}]}})
if check_status('create a one-step wait workflow', wf, 201):
    wid = wf[2]['id']
    ex = call('POST', '/api/executions', body={'workflow_id': wid})
    if check_status('start it', ex, 201):
        eid = ex[2]['id']
        agrees('respond to an execution with no pending prompt', 'POST',
               '/api/executions/{id}/respond',
               '/api/executions/%s/respond' % eid, 409,
               body={'response': 'Yes'})
        # The seed's "logs" among them (SPEC section 4).
        sch = deref(paths['/api/executions/{id}']['get']['responses']['200']
                    ['content']['application/json']['schema'])
        req = sch.get('required', [])
        r = call('GET', '/api/executions/' + eid)
        check('GET /api/executions/{id} requires "logs" in its schema',
              'logs' in req and 'logs' in sch.get('properties', {}), sch)
        check('GET /api/executions/{id} has every required field of its '
              'schema', isinstance(r[2], dict) and
              all(k in r[2] for k in req),
              'required %s, got %s' % (req, r[2]))
    call('DELETE', '/api/workflows/' + wid)

# 2xx answers have the documented required fields.
for descr, method, dpath, rpath, code in (
        ('GET /health', 'GET', '/health', '/health', '200'),
        ('GET /api/user', 'GET', '/api/user', '/api/user', '200')):
    r = call(method, rpath, user=None if dpath == '/health' else 'admin')
    sch = deref(paths[dpath][method.lower()]['responses'][code]['content']
                ['application/json']['schema'])
    req = sch.get('required', [])
    check('%s has every required field of its schema' % descr,
          isinstance(r[2], dict) and all(k in r[2] for k in req),
          'required %s, got %s' % (req, r[2]))

done()
