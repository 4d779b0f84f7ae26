#!/usr/bin/env python3
"""nginx configuration: the production site (nginx/pulse.conf) and the
development config (nginx/dev/render) pass `nginx -t`, and in what
`nginx -T` says nginx loaded, every location that reaches pulse-api
(fastcgi_pass pulse_api) or pulse-pushd (proxy_pass http://pulse_pushd_*)
  - sets all four Remote-* values (fastcgi_param HTTP_REMOTE_USER, _GROUPS,
    _NAME, _EMAIL, or proxy_set_header Remote-User, -Groups, -Name, -Email),
    each exactly once, as nginx's inheritance puts them in effect there;
  - has an auth_request in effect (location, enclosing location or server),
    and takes the four values from that auth request's auth_request_set
    variables;
except the fixed paths without single sign-on (= /health,
= /api/workers/heartbeat, = /api/workers/enroll, = /worker, /metrics,
^~ /hooks/), which must set all four to "". Those a worker or a webhook
sender reaches (= /worker, = /api/workers/heartbeat, = /api/workers/enroll,
^~ /hooks/) have a limit_req in effect: anyone can present a key or a
signature there, and each refusal costs the database a write.

Every location serving /api/ sends each error nginx makes itself (400,
401, 403, 404, 413, 414, 429, 500, 502, 503, 504) to a location that
answers it as application/json with an {"error"} body, and the server
turns a request sent under /api/ that nginx decodes elsewhere ($request_uri
vs $uri) into that JSON 404 (if ($pulse_api_escaped)).

A named location (@name, which no client can request) is checked through
the locations that hand requests to it (try_files ... @name): each of
those must have an auth_request in effect, and the named location's four
values must come from their auth_request_set variables. This is how
= /api/executions reaches @pulse_exec_start, where the per-user rate limit
runs after sign-in (nginx/pulse-locations.conf).

Needs no running stack: everything happens in a temporary directory (the
production site is rendered there with a throwaway certificate, the real
/etc/nginx is never touched). The checker is also run on copies of the
nginx/ directory with one line removed, and must catch each of them.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

from pulse_test import check, diag, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
NGINX_DIR = os.path.join(REPO, 'nginx')

# Locations that reach the backends without single sign-on, by design.
NO_SSO = {'= /health', '= /api/workers/heartbeat', '= /api/workers/enroll',
          '= /worker', '= /metrics/api', '/metrics', '= /metrics',
          '^~ /hooks/'}
FASTCGI_REMOTE = ('HTTP_REMOTE_USER', 'HTTP_REMOTE_GROUPS',
                  'HTTP_REMOTE_NAME', 'HTTP_REMOTE_EMAIL')
PROXY_REMOTE = ('remote-user', 'remote-groups', 'remote-name',
                'remote-email')
# Locations the checker must find, or it is not looking at PULSE's site.
EXPECTED = {'/api/', '= /api/executions', '@pulse_exec_start', '= /health',
            '= /api/workers/heartbeat', '= /api/workers/enroll', '= /ws',
            '= /worker', '^~ /hooks/'}
# Anyone can present a key here: each must be rate-limited per address.
RATE_LIMITED = {'= /api/workers/heartbeat', '= /api/workers/enroll',
                '= /worker', '^~ /hooks/'}
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'


# --- nginx -T parsing -------------------------------------------------------

def split_dump(text):
    """{file name: contents} from `nginx -T` output."""
    files, name, buf = {}, None, []
    for line in text.splitlines(keepends=True):
        m = re.match(r'^# configuration file (.*):\n?$', line)
        if m:
            if name is not None:
                files[name] = ''.join(buf)
            name, buf = m.group(1), []
        elif name is not None:
            buf.append(line)
    if name is not None:
        files[name] = ''.join(buf)
    return files


def tokens(text):
    """nginx config tokens: words (quotes removed), '{', '}', ';'."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '#':
            while i < n and text[i] != '\n':
                i += 1
        elif c in '{};':
            yield c
            i += 1
        elif c in '"\'':
            j, out = i + 1, []
            while j < n and text[j] != c:
                if text[j] == '\\' and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            yield ('w', ''.join(out))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{};':
                if text[j] == '\\' and j + 1 < n:
                    j += 1
                j += 1
            yield ('w', text[i:j])
            i = j


def parse(text):
    """A list of [name, args, children-or-None]."""
    stack, cur, words = [], [], []
    for t in tokens(text):
        if t == ';':
            if words:
                cur.append([words[0], words[1:], None])
            words = []
        elif t == '{':
            node = [words[0] if words else '', words[1:], []]
            cur.append(node)
            stack.append(cur)
            cur, words = node[2], []
        elif t == '}':
            cur, words = stack.pop(), []
        else:
            words.append(t[1])
    return cur


def expand(nodes, files, prefix, depth=0):
    """Replace each `include` by the parsed contents of the files it names,
    as found in the dump (relative names against nginx's conf prefix)."""
    out = []
    for name, args, kids in nodes:
        if name == 'include' and kids is None and args and depth < 20:
            pat = args[0] if os.path.isabs(args[0]) else \
                os.path.join(prefix, args[0])
            for f in sorted(x for x in files
                            if fnmatch.fnmatchcase(x, pat)):
                out += expand(parse(files[f]), files, prefix, depth + 1)
            continue
        if kids is not None:
            kids = expand(kids, files, prefix, depth)
        out.append([name, args, kids])
    return out


class Level:
    """The directives in effect at one block, after nginx's inheritance:
    array directives (fastcgi_param, proxy_set_header, auth_request_set)
    are inherited only by a block that sets none of its own; auth_request
    by a block that does not set it."""

    def __init__(self, nodes, parent=None):
        own = lambda d: [a for n, a, k in nodes if n == d and k is None]
        self.fastcgi_param = own('fastcgi_param') or \
            (parent.fastcgi_param if parent else [])
        self.proxy_set_header = own('proxy_set_header') or \
            (parent.proxy_set_header if parent else [])
        self.auth_request_set = own('auth_request_set') or \
            (parent.auth_request_set if parent else [])
        ar = own('auth_request')
        self.auth_request = ar[-1][0] if ar else \
            (parent.auth_request if parent else 'off')
        self.fastcgi_pass = [a[0] for a in own('fastcgi_pass') if a]
        tf = own('try_files')
        self.try_files = tf[-1] if tf else []
        self.proxy_pass = [a[0] for a in own('proxy_pass') if a]
        self.error_page = own('error_page') or \
            (parent.error_page if parent else [])
        self.own_default_type = [a[0] for a in own('default_type') if a]
        self.own_return = [a for a in own('return') if a]
        self.limit_req = own('limit_req') or \
            (parent.limit_req if parent else [])


def locations(nodes, parent=None, where=''):
    """(description, location args, Level) for every location, nested."""
    lvl = Level(nodes, parent)
    for name, args, kids in nodes:
        if kids is None:
            continue
        if name == 'location':
            key = ' '.join(args)
            sub = Level(kids, lvl)
            yield where + ' location ' + key, key, sub
            yield from locations(kids, lvl, where + ' location ' + key)
        elif name in ('http', 'server'):
            names = [a for n, a, k in kids if n == 'server_name']
            w = where + (' server ' + ' '.join(names[0]) if name == 'server'
                         and names else ' ' + name)
            yield from locations(kids, lvl, w)


def reaches(lvl):
    """'api', 'pushd' or None: the backend this location passes to."""
    if any(p == 'pulse_api' for p in lvl.fastcgi_pass):
        return 'api'
    if any(re.match(r'^https?://pulse_pushd_', p) for p in lvl.proxy_pass):
        return 'pushd'
    return None


def remote_values(kind, lvl):
    """{Remote-* name: [values set]} at one level."""
    if kind == 'api':
        settings = [(a[0], a[1] if len(a) > 1 else '')
                    for a in lvl.fastcgi_param if a]
    else:
        settings = [(a[0].lower(), a[1] if len(a) > 1 else '')
                    for a in lvl.proxy_set_header if a]
    values = {}
    for k, v in settings:
        values.setdefault(k, []).append(v)
    return values


def problems(conf_text, prefix):
    """Every rule broken in a `nginx -T` dump, and the locations checked."""
    files = split_dump(conf_text)
    if not files:
        return ['no "# configuration file" sections in nginx -T output'], []
    main = next(iter(files))
    tree = expand(parse(files[main]), files, prefix)
    bad, seen = [], []
    locs = list(locations(tree))
    named = {key: (descr, lvl, reaches(lvl)) for descr, key, lvl in locs
             if key.startswith('@') and reaches(lvl)}
    entered = {key: [] for key in named}
    for descr, key, lvl in locs:
        kind = reaches(lvl)
        target = lvl.try_files[-1] if lvl.try_files else None
        if kind is None and target in named:
            # Reaches a backend through a named location: the sign-in
            # happens here, the Remote-* values are set there.
            ndescr, nlvl, kind = named[target]
            entered[target].append(key)
            vlvl = nlvl
        elif kind is None:
            continue
        else:
            vlvl = lvl
        seen.append(key)
        want = FASTCGI_REMOTE if kind == 'api' else PROXY_REMOTE
        values = remote_values(kind, vlvl)
        for w in want:
            if w not in values:
                bad.append('%s: %s is not set' % (descr, w))
            elif len(values[w]) > 1:
                bad.append('%s: %s is set %d times' % (descr, w,
                                                       len(values[w])))
        if key in named:
            continue    # checked through the locations entering it
        if key in RATE_LIMITED and not lvl.limit_req:
            bad.append('%s: no limit_req in effect' % descr)
        sso = lvl.auth_request != 'off'
        if key in NO_SSO:
            for w in want:
                if values.get(w, [''])[0] != '':
                    bad.append('%s: %s must be "" without SSO, is %r' % (
                        descr, w, values[w][0]))
            continue
        if not sso:
            bad.append('%s: no auth_request in effect' % descr)
            continue
        from_sso = {a[0] for a in lvl.auth_request_set if len(a) > 1}
        for w in want:
            v = values.get(w, [None])[0]
            if v is not None and v not in from_sso:
                bad.append('%s: %s is %r, not a variable set by '
                           'auth_request_set' % (descr, w, v))
    for key, keys in entered.items():
        if not keys:
            bad.append('%s: reaches a backend but no location enters it'
                       % named[key][0])
    return bad, seen


# Errors nginx may answer itself under /api/, each of which must be JSON.
API_ERRORS = ('400', '401', '403', '404', '413', '414', '429', '500', '502',
              '503', '504')


def is_api_location(key):
    return re.match(r'^(= )?/api(/|$)', key) is not None or \
        key in ('@pulse_exec_start', '= /.pulse-api-no-route')


def json_error_problems(conf_text, prefix):
    """Every /api/ location must send each of nginx's own errors to a
    location answering it as application/json; and the server must turn
    a request sent under /api/ but decoded elsewhere into that 404."""
    files = split_dump(conf_text)
    if not files:
        return ['no "# configuration file" sections in nginx -T output'], []
    tree = expand(parse(files[next(iter(files))]), files, prefix)
    locs = list(locations(tree))
    by_key = {key: lvl for _, key, lvl in locs}
    bad, seen = [], []
    # PULSE's site, not the dev SSO stand-in's server (whose own path
    # happens to start with /api/).
    sites = {d.split(' location ')[0] for d, k, _ in locs if k == '/api/'}
    for descr, key, lvl in locs:
        if not is_api_location(key) or \
                descr.split(' location ')[0] not in sites:
            continue
        seen.append(key)
        pages = {}
        for a in lvl.error_page:
            for code in a[:-1]:
                pages[code] = a[-1]
        for code in API_ERRORS:
            target = pages.get(code)
            tl = by_key.get(target if target and target.startswith('@')
                            else '= %s' % target)
            if target is None:
                bad.append('%s: no error_page for %s' % (descr, code))
            elif tl is None:
                bad.append('%s: error_page %s goes to %s, which is not a '
                           'location' % (descr, code, target))
            elif tl.own_default_type != ['application/json'] or \
                    not any(r[0] == code and len(r) > 1 and
                            r[1].startswith('{"error"')
                            for r in tl.own_return):
                bad.append('%s: error_page %s goes to %s, which does not '
                           'return %s with a JSON {"error"} body' % (
                               descr, code, target, code))
    servers = [k for n, a, k in tree_servers(tree)]
    if not any(n == 'if' and a == ['($pulse_api_escaped)']
               for srv in servers for n, a, k in srv):
        bad.append('no server-level if ($pulse_api_escaped)')
    return bad, seen


def tree_servers(nodes):
    for n, a, k in nodes:
        if k is None:
            continue
        if n == 'server':
            yield n, a, k
        else:
            yield from tree_servers(k)


# --- rendering ----------------------------------------------------------

def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          **kw)


def render_prod(tmp, nginx_dir):
    """A main nginx.conf in tmp including the production site, as Debian's
    does at http level; tmp/pulse -> nginx_dir as /etc/nginx/pulse."""
    os.makedirs(os.path.join(tmp, 'log'), exist_ok=True)
    os.symlink(nginx_dir, os.path.join(tmp, 'pulse'))
    cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
    if not os.path.exists(cert):
        p = run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                 '-days', '1', '-subj', '/CN=localhost', '-keyout', key,
                 '-out', cert])
        if p.returncode != 0:
            raise RuntimeError('openssl: ' + p.stderr)
    with open(os.path.join(nginx_dir, 'pulse.conf'), encoding='utf-8') as f:
        site = f.read()
    site = site.replace('/etc/ssl/pulse/fullchain.pem', cert)
    site = site.replace('/etc/ssl/pulse/privkey.pem', key)
    site = site.replace('/var/log/nginx/', os.path.join(tmp, 'log') + '/')
    with open(os.path.join(tmp, 'pulse-site.conf'), 'w') as f:
        f.write(site)
    with open(os.path.join(tmp, 'nginx.conf'), 'w') as f:
        f.write('pid %s/nginx.pid;\nerror_log %s/log/error.log;\n'
                'events {}\nhttp {\n'
                '\tinclude /etc/nginx/mime.types;\n'
                '\taccess_log %s/log/access.log;\n'
                '\tinclude pulse-site.conf;\n}\n' % (tmp, tmp, tmp))
    return os.path.join(tmp, 'nginx.conf')


def render_dev(tmp, repo):
    """nginx/dev/render into tmp/dev (short path: unix sockets)."""
    d = os.path.join(tmp, 'dev')
    p = run([os.path.join(repo, 'nginx', 'dev', 'render'), d, '18999', repo])
    if p.returncode != 0:
        raise RuntimeError('render: ' + p.stderr)
    return os.path.join(d, 'nginx', 'nginx.conf')


def nginx(flag, conf, tmp):
    return run([NGINX, flag, '-p', tmp + '/', '-e',
                os.path.join(tmp, 'nginx-t.log'), '-c', conf])


def verify(conf, tmp):
    """(nginx -t result, nginx -T result, problems, locations seen)."""
    t = nginx('-t', conf, tmp)
    big_t = nginx('-T', conf, tmp)
    bad, seen = problems(big_t.stdout, os.path.dirname(conf))
    return t, big_t, bad, seen


# --- the real configurations --------------------------------------------

require('nginx is installed', os.access(NGINX, os.X_OK), NGINX)
require('openssl is installed', shutil.which('openssl'), 'openssl')
top = tempfile.mkdtemp(prefix='pulse-ngx.', dir='/tmp')
os.chmod(top, 0o755)

for label, make in (
        ('production', lambda t: render_prod(t, NGINX_DIR)),
        ('development', lambda t: render_dev(t, REPO))):
    tmp = os.path.join(top, label[:4])
    os.makedirs(tmp)
    try:
        conf = make(tmp)
    except RuntimeError as e:
        check('%s config renders' % label, False, str(e))
        continue
    t, big_t, bad, seen = verify(conf, tmp)
    check('%s: nginx -t passes' % label, t.returncode == 0,
          t.stderr.strip())
    check('%s: nginx -T dumps the config' % label,
          big_t.returncode == 0 and '# configuration file' in big_t.stdout,
          big_t.stderr.strip())
    diag('%s: locations reaching a backend: %s' % (label, sorted(seen)))
    check('%s: every expected backend location found' % label,
          EXPECTED <= set(seen),
          'found %s, missing %s' % (sorted(seen),
                                    sorted(EXPECTED - set(seen))))
    check('%s: every location reaching pulse-api or pushd sets all four '
          'Remote-* and has auth_request (%d checked)' % (label, len(seen)),
          seen and not bad, '\n'.join(bad))
    jbad, jseen = json_error_problems(big_t.stdout, os.path.dirname(conf))
    check('%s: every /api/ location answers nginx\'s own errors (%s) as '
          'JSON, and /api/ URIs decoded elsewhere are a 404 (%d checked)'
          % (label, ' '.join(API_ERRORS), len(jseen)),
          jseen and not jbad, '\n'.join(jbad))
    # Issue 12: half-open connections are dropped in seconds, not 60.
    dump = big_t.stdout
    check('%s: client_header_timeout and client_body_timeout 10s, '
          'reset_timedout_connection on' % label,
          re.search(r'^\s*client_header_timeout\s+10s;', dump, re.M) and
          re.search(r'^\s*client_body_timeout\s+10s;', dump, re.M) and
          re.search(r'^\s*reset_timedout_connection\s+on;', dump, re.M))
    if label == 'development':
        wc = re.search(r'^\s*worker_connections\s+(\d+);', dump, re.M)
        check('development: worker_connections 16384 (production: see '
              'deploy/README.md)', wc and int(wc.group(1)) >= 16384,
              wc and wc.group(0))
    if label == 'production':
        check('production: the TLS site and the plain redirect both load',
              'listen' in big_t.stdout and 'ssl_certificate' in big_t.stdout)


# --- the checker catches a missing line -----------------------------------

def mutant(label, fname, pattern, nth_location, expect, repl=None,
           checker=problems):
    """Remove the line matching `pattern` inside the `nth_location` block
    of nginx/<fname> (a copy), or with repl replace what matched, render
    production, and expect a problem matching `expect`."""
    tmp = tempfile.mkdtemp(prefix='m.', dir=top)
    ndir = os.path.join(tmp, 'nginx-copy')
    shutil.copytree(NGINX_DIR, ndir, symlinks=True)
    path = os.path.join(ndir, fname)
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    out, in_loc, removed = [], False, 0
    for line in lines:
        if nth_location is None:
            in_loc = True   # anywhere in the file
        elif line.startswith('location ' + nth_location + ' {'):
            in_loc = True
        elif in_loc and line.startswith('}'):
            in_loc = False
        if in_loc and not removed and re.search(pattern, line):
            removed += 1
            if repl is None:
                continue
            line = re.sub(pattern, repl, line)
        out.append(line)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out))
    conf = render_prod(tmp, ndir)
    t, big_t, bad, _ = verify(conf, tmp)
    if checker is not problems:
        bad, _ = checker(big_t.stdout, os.path.dirname(conf))
    caught = [b for b in bad if re.search(expect, b)]
    check('checker catches: %s' % label, removed == 1 and caught,
          'removed %d line(s); nginx -t rc %d; problems: %s' % (
              removed, t.returncode, bad))


mutant('HTTP_REMOTE_EMAIL removed from /api/', 'pulse-locations.conf',
       r'HTTP_REMOTE_EMAIL', '/api/', r'location /api/: HTTP_REMOTE_EMAIL '
       r'is not set')
mutant('auth_request include removed from = /api/executions',
       'pulse-locations.conf', r'authelia-authrequest\.conf',
       '= /api/executions', r'= /api/executions: .*(auth_request|not a '
       r'variable)')
mutant('HTTP_REMOTE_GROUPS removed from @pulse_exec_start',
       'pulse-locations.conf', r'HTTP_REMOTE_GROUPS', '@pulse_exec_start',
       r'location = /api/executions: HTTP_REMOTE_GROUPS is not set')
mutant('HTTP_REMOTE_USER of @pulse_exec_start taken from the client',
       'pulse-locations.conf', r'\$pulse_user', '@pulse_exec_start',
       r'location = /api/executions: HTTP_REMOTE_USER is .*not a variable '
       r'set by auth_request_set', repl='$http_remote_user')
mutant('= /api/executions no longer enters @pulse_exec_start',
       'pulse-locations.conf', r'try_files', '= /api/executions',
       r'@pulse_exec_start: reaches a backend but no location enters it')
mutant('Remote-Groups removed from = /ws', 'pulse-locations.conf',
       r'Remote-Groups', '= /ws', r'= /ws: remote-groups is not set')
mutant('blank Remote-Name removed from = /worker', 'pulse-locations.conf',
       r'Remote-Name', '= /worker', r'= /worker: remote-name is not set')
mutant('blank HTTP_REMOTE_USER removed from = /api/workers/heartbeat',
       'pulse-locations.conf', r'HTTP_REMOTE_USER',
       '= /api/workers/heartbeat',
       r'= /api/workers/heartbeat: HTTP_REMOTE_USER is not set')
mutant('HTTP_REMOTE_USER taken from the client in /api/',
       'pulse-locations.conf', r'\$pulse_user', '/api/',
       r'location /api/: HTTP_REMOTE_USER is .*not a variable set by '
       r'auth_request_set', repl='$http_remote_user')
mutant('auth_request include removed from = /ws', 'pulse-locations.conf',
       r'authelia-authrequest\.conf', '= /ws', r'= /ws: no auth_request')

mutant('api-errors.conf include removed from /api/', 'pulse-locations.conf',
       r'api-errors\.conf', '/api/',
       r'location /api/: (no error_page for|error_page) 401',
       checker=json_error_problems)
mutant('api-errors.conf include removed from @pulse_exec_start',
       'pulse-locations.conf', r'api-errors\.conf', '@pulse_exec_start',
       r'@pulse_exec_start: no error_page for 403',
       checker=json_error_problems)
mutant('JSON 401 page turned into HTML', 'pulse-locations.conf',
       r'application/json', '@pulse_401', r'error_page 401 goes to '
       r'@pulse_401, which does not return', checker=json_error_problems)
mutant('escape check on another variable', 'pulse-locations.conf',
       r'^if \(\$pulse_api_escaped\)', None,
       r'no server-level if \(\$pulse_api_escaped\)',
       repl='if ($pulse_request_under_api)', checker=json_error_problems)

if os.environ.get('PULSE_TEST_KEEP'):
    diag('kept ' + top)
else:
    shutil.rmtree(top, ignore_errors=True)
done()
