#!/usr/bin/env python3
"""The deploy hook end to end, on loopback (deploy/README.md).

A bare git repository seeded with a snapshot of this checkout stands for
the team's git server; Debian's `webhook` daemon runs our hooks.json on a
free loopback port; pulse-deploy deploys into a private PULSE_DEPLOY_ROOT;
instead of systemd, PULSE_RESTART_CMD is a small supervisor stand-in
(tests/integration/deploy/restart) that restarts a pulse-api from
`current/bin` against the test stack's database, behind a second nginx on
its own port, whose /health pulse-deploy checks.

Cases: unsigned, wrongly signed and other-branch events are refused and
deploy nothing; a signed push deploys the commit (the serving pulse-api is
the new release's binary); a commit that fails to build leaves the old
release serving; a commit that builds but fails /health is rolled back.
Also pulse-backup (rotation, no partial file) and systemd-analyze verify.

Needs PULSE_ENV_FILE (the stack's .env, set by ./pulse-dev test), webhook,
git, nginx and the build tools. Builds PULSE twice, at -O0.
"""

import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_test import at_end, check, diag, done, require, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV_FILE = os.environ.get('PULSE_ENV_FILE', '')
BUILD_TIMEOUT = 300
HEALTH_TIMEOUT = 8	# the deploy's /health wait; 30 s in production
procs = []		# (name, Popen) to stop at the end
api_pidfile = []	# the stand-in's pulse-api pid file


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*cmd, cwd=None, env=None, timeout=120):
    return subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def git(work, *args):
    r = run('git', '-c', 'user.name=PULSE test', '-c',
            'user.email=test@localhost', *args, cwd=work)
    if r.returncode != 0:
        raise RuntimeError('git %s: %s' % (' '.join(args), r.stdout))
    return r.stdout.strip()


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode('utf-8', 'replace')
    except OSError as e:
        return None, str(e)


def snapshot(work):
    """Commit the checkout as it is now (tracked and new files, what git
    ignores left out) as the first commit of `work`."""
    r = run('git', '-C', REPO, 'ls-files', '-z', '-co', '--exclude-standard')
    require('the checkout is a git repository', r.returncode == 0, r.stdout)
    skip = ('tests/artifacts/', 'node_modules/', '__pycache__/')
    files = [f for f in r.stdout.split('\0') if f and
             not any(s in '/' + f for s in ('/' + k for k in skip)) and
             os.path.isfile(os.path.join(REPO, f))]
    r = run('git', 'init', '-q', '-b', 'main', work)
    require('git init', r.returncode == 0, r.stdout)
    for f in files:
        dst = os.path.join(work, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(REPO, f), dst)
    git(work, 'add', '-A')
    git(work, 'commit', '-q', '-m', 'snapshot of the checkout under test')
    return git(work, 'rev-parse', 'HEAD')


def commit_change(work, path, old, new, message):
    """Replace `old` by `new` in `path` (must occur) and commit; returns
    the commit or None when `old` is not in the file."""
    p = os.path.join(work, path)
    with open(p) as f:
        text = f.read()
    if old not in text:
        return None
    with open(p, 'w') as f:
        f.write(text.replace(old, new, 1))
    git(work, 'commit', '-q', '-a', '-m', message)
    return git(work, 'rev-parse', 'HEAD')


def push_event(url, secret, sha, ref='refs/heads/main', sign=True,
               delivery=None):
    """A Gitea push event; each has a delivery id of its own unless one is
    given (a replay sends the same one again)."""
    body = json.dumps({'ref': ref, 'before': '0' * 40, 'after': sha,
                       'repository': {'full_name': 'infra/pulse'}}).encode()
    headers = {'Content-Type': 'application/json',
               'X-Gitea-Event': 'push',
               'X-Gitea-Delivery': delivery or secrets.token_hex(16)}
    if sign:
        headers['X-Gitea-Signature'] = hmac.new(
            secret.encode(), body, hashlib.sha256).hexdigest()
    return http('POST', url, body, headers)


def main():
    for tool in ('webhook', 'git', 'nginx', 'autoreconf', 'make', 'curl'):
        require('%s is installed' % tool, shutil.which(tool), tool)
    require('PULSE_ENV_FILE names the stack\'s .env',
            ENV_FILE and os.access(ENV_FILE, os.R_OK), ENV_FILE)

    tmp = tempfile.mkdtemp(prefix='pulse-deploy.')
    os.chmod(tmp, 0o755)	# nginx's workers pass through
    at_end(lambda: shutil.rmtree(tmp, ignore_errors=True))
    diag('working in %s' % tmp)
    root = os.path.join(tmp, 'root')
    ng = os.path.join(tmp, 'ng')
    os.makedirs(ng)

    # The git server.
    work = os.path.join(tmp, 'work')
    a0 = snapshot(work)
    # One commit more, so that an older commit than the deployed one
    # exists (a replayed delivery of it must be refused).
    a = commit_change(work, 'README.md', '# PULSE', '# PULSE\n',
                      'deploy test: a commit after the snapshot')
    require('a second commit', a is not None and a != a0)
    origin = os.path.join(tmp, 'origin.git')
    r = run('git', 'clone', '-q', '--bare', work, origin)
    require('bare repository seeded from the checkout', r.returncode == 0,
            r.stdout)
    git(work, 'remote', 'add', 'origin', origin)

    # A second nginx + pulse-api pair, for /health.
    port = free_port()
    r = run(os.path.join(REPO, 'nginx/dev/render'), ng, str(port), REPO)
    require('nginx config rendered', r.returncode == 0, r.stdout)
    nginx = subprocess.Popen(
        ['nginx', '-c', ng + '/nginx/nginx.conf', '-p', ng + '/nginx',
         '-e', ng + '/log/nginx-error.log', '-g', 'daemon off;'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(('nginx', nginx))
    health = 'http://127.0.0.1:%d/health' % port
    require('nginx answers', wait_for(lambda: http('GET', health)[0], 120))

    api_pid = os.path.join(tmp, 'api.pid')
    api_pidfile.append(api_pid)
    env = dict(os.environ)
    env.update({
        'PULSE_DEPLOY_ROOT': root,
        'PULSE_DEPLOY_REPO': origin,
        'PULSE_ENV_FILE': ENV_FILE,
        'PULSE_RESTART_CMD': os.path.join(HERE, 'deploy', 'restart'),
        'PULSE_HEALTH_URL': health,
        'PULSE_HEALTH_TIMEOUT': str(HEALTH_TIMEOUT),
        'PULSE_BUILD_CFLAGS': '-O0 -g0',
        'PULSE_DEPLOY_KEEP': '3',
        'PULSE_WEBHOOK_SECRET': secrets.token_hex(32),
        # for the restart stand-in
        'PULSE_TEST_API_SOCKET': ng + '/run/api.sock',
        'PULSE_TEST_API_PID': api_pid,
        'PULSE_TEST_API_LOG': os.path.join(tmp, 'api.log'),
    })
    secret = env['PULSE_WEBHOOK_SECRET']

    # The webhook daemon with our hooks.json, pulse-deploy from this checkout.
    hooks = os.path.join(tmp, 'hooks.json')
    with open(os.path.join(REPO, 'deploy/webhook/hooks.json.in')) as f:
        text = f.read().replace('@sbindir@', os.path.join(REPO, 'deploy'))
    with open(hooks, 'w') as f:
        f.write(text)
    hport = free_port()
    wlog = open(os.path.join(tmp, 'webhook.log'), 'w')
    wh = subprocess.Popen(['webhook', '-template', '-hooks', hooks,
                           '-ip', '127.0.0.1', '-port', str(hport),
                           '-verbose'], env=env, stdout=wlog,
                          stderr=subprocess.STDOUT)
    procs.append(('webhook', wh))
    hook = 'http://127.0.0.1:%d/hooks/pulse-deploy' % hport
    require('webhook daemon answers',
            wait_for(lambda: http('GET', 'http://127.0.0.1:%d/' % hport)[0],
                     10))

    status_file = os.path.join(root, 'status')

    def status():
        try:
            with open(status_file) as f:
                return f.read().split()
        except OSError:
            return []

    def wait_status(sha, timeout=BUILD_TIMEOUT):
        v = wait_for(lambda: len(status()) >= 2 and status()[1] == sha and
                     status(), timeout, 0.5)
        return v[0] if v else None

    def current():
        p = os.path.join(root, 'current')
        return os.path.realpath(p) if os.path.islink(p) else None

    def serving_exe():
        try:
            with open(api_pid) as f:
                return os.path.realpath('/proc/%s/exe' % f.read().strip())
        except OSError:
            return None

    def deploy_log():
        try:
            with open(os.path.join(root, 'deploy.log')) as f:
                return f.read()
        except OSError:
            return ''

    # --- refused events: nothing runs ---------------------------------
    st, body = push_event(hook, secret, a, sign=False)
    check('unsigned push event refused by webhook (403)', st == 403,
          (st, body))
    st, body = push_event(hook, 'not-the-secret', a)
    check('wrongly signed push event refused by webhook (%s)' % st,
          st is not None and st >= 400, (st, body))
    st, body = push_event(hook, secret, a, ref='refs/heads/feature')
    check('signed push to another branch refused (403)', st == 403,
          (st, body))
    time.sleep(1)
    check('refused events deployed nothing (no deploy root, no current)',
          not os.path.exists(os.path.join(root, 'releases')) and
          current() is None, os.listdir(tmp))

    # --- a signed push deploys ------------------------------------------
    t0 = time.monotonic()
    first = secrets.token_hex(16)
    st, body = push_event(hook, secret, a, delivery=first)
    check('signed push event accepted (200)', st == 200, (st, body))
    outcome = wait_status(a)
    require('commit %s deployed (status %s, %.0f s)' %
            (a[:12], outcome, time.monotonic() - t0), outcome == 'deployed',
            deploy_log()[-3000:])
    rel_a = current()
    check('current points at the new release',
          rel_a and os.path.basename(rel_a).endswith('-' + a[:12]), rel_a)
    check('release has bin/, share/pulse/{sql,static,nginx}, REVISION',
          all(os.path.exists(os.path.join(rel_a, p)) for p in (
              'bin/pulse-api', 'bin/pulse-pushd', 'bin/pulse-worker',
              'share/pulse/sql', 'share/pulse/static/index.html',
              'share/pulse/nginx/pulse-locations.conf', 'REVISION')),
          rel_a)
    st, body = http('GET', health)
    check('/health answers 200 through nginx after the deploy', st == 200,
          (st, body))
    check('the serving pulse-api is the new release\'s binary',
          serving_exe() == os.path.join(rel_a, 'bin/pulse-api'),
          serving_exe())
    try:
        rev = json.loads(body).get('revision')
    except ValueError:
        rev = None
    check('/health reports the deployed revision', rev == a, body)
    log = deploy_log()
    check('every step is logged with a timestamp',
          all(' pulse-deploy[' in l and l[:4].isdigit()
              for l in log.splitlines() if l and not l.startswith(' ')) and
          all(s in log for s in ('fetch:', 'build:', 'install:', 'migrate:',
                                 'switch:', 'restart:', 'health:',
                                 'deployed ' + a)), log[-2000:])

    # --- a commit that fails to build -----------------------------------
    pid_before = serving_exe(), open(api_pid).read()
    b = commit_change(work, 'fcgi-api/main.c', '#include',
                      '#error "deploy test: this commit does not build"\n'
                      '#include', 'deploy test: broken build')
    require('broken-build commit made', b is not None)
    git(work, 'push', '-q', 'origin', 'main')
    t0 = time.monotonic()
    st, body = push_event(hook, secret, b)
    check('signed push of a broken commit accepted', st == 200, (st, body))
    outcome = wait_status(b)
    check('broken build: not deployed (status %s, %.0f s)' %
          (outcome, time.monotonic() - t0), outcome == 'failed',
          deploy_log()[-3000:])
    check('broken build: current still points at the old release',
          current() == rel_a, current())
    check('broken build: its release directory was removed',
          not any(d.endswith('-' + b[:12])
                  for d in os.listdir(os.path.join(root, 'releases'))),
          os.listdir(os.path.join(root, 'releases')))
    check('broken build: the old pulse-api was not restarted',
          (serving_exe(), open(api_pid).read()) == pid_before)
    st, body = http('GET', health)
    check('broken build: /health still 200', st == 200, (st, body))

    # --- a commit that builds but fails /health ------------------------
    git(work, 'revert', '--no-edit', 'HEAD')
    c = commit_change(work, 'fcgi-api/api-health.c',
                      'reply_json(req, up ? 200 : 503, obj);',
                      'reply_json(req, 503, obj);',
                      'deploy test: /health always 503')
    require('unhealthy commit made (fcgi-api/api-health.c as expected)',
            c is not None, 'update the patch in test_deploy.py')
    git(work, 'push', '-q', 'origin', 'main')
    t0 = time.monotonic()
    st, body = push_event(hook, secret, c)
    check('signed push of an unhealthy commit accepted', st == 200,
          (st, body))
    outcome = wait_status(c)
    check('unhealthy commit: rolled back (status %s, %.0f s)' %
          (outcome, time.monotonic() - t0), outcome == 'rolled-back',
          deploy_log()[-3000:])
    check('unhealthy commit: current points at the old release again',
          current() == rel_a, current())
    check('unhealthy commit: the old release\'s pulse-api is serving',
          serving_exe() == os.path.join(rel_a, 'bin/pulse-api'),
          serving_exe())
    st, body = http('GET', health)
    check('unhealthy commit: /health 200 again after the rollback',
          st == 200, (st, body))
    check('rollback is logged', 'rolled back: ' in deploy_log(),
          deploy_log()[-2000:])

    # --- replays and older commits (issue 12) --------------------------
    OLD = 'not newer than the current release'

    def refusals(text, n):
        """Wait until deploy.log says text n times; the log."""
        wait_for(lambda: deploy_log().count(text) >= n, 120, 0.5)
        return deploy_log()

    st, body = push_event(hook, secret, a, delivery=first)
    log = refusals('a replay, refused', 1)
    check('the first delivery replayed: refused, nothing changed',
          st == 200 and 'delivery %s was handled before' % first in log and
          status()[:2] == ['refused', a] and current() == rel_a,
          log[-1500:])
    st, body = push_event(hook, secret, a0)
    log = refusals(OLD, 1)
    check('a fresh delivery of a commit older than the current release: '
          'refused, nothing built',
          st == 200 and status()[:2] == ['refused', a0] and
          current() == rel_a and not any(
              d.endswith('-' + a0[:12])
              for d in os.listdir(os.path.join(root, 'releases'))),
          log[-1500:])
    st, body = push_event(hook, secret, a)
    log = refusals(OLD, 2)
    check('a fresh delivery of the serving commit, not the tip: refused',
          st == 200 and status()[:2] == ['refused', a] and
          current() == rel_a, log[-1500:])
    r = run(os.path.join(REPO, 'deploy/pulse-deploy'), a0, env=env,
            timeout=120)
    check('by hand too, an older commit needs --rollback (exit 1, says so)',
          r.returncode == 1 and '--rollback ' + a0 in r.stdout and
          current() == rel_a, r.stdout[-1500:])

    backup_tests(tmp)
    systemd_tests(tmp, rel_a)


def backup_tests(tmp):
    bdir = os.path.join(tmp, 'backups')
    env = dict(os.environ, PULSE_BACKUP_DIR=bdir, PULSE_BACKUP_KEEP='2')
    tool = os.path.join(REPO, 'deploy/pulse-backup')
    codes = []
    for i in range(3):
        if i:
            time.sleep(1.1)	# one file per second
        codes.append(run(tool, env=env).returncode)
    files = sorted(f for f in os.listdir(bdir)) if os.path.isdir(bdir) else []
    check('pulse-backup: three runs succeed, the newest two are kept',
          codes == [0, 0, 0] and len(files) == 2, (codes, files))
    if files:
        r = subprocess.run(['zcat', os.path.join(bdir, files[-1])],
                           stdout=subprocess.PIPE, text=True)
        check('pulse-backup: the dump is whole (tables, dump completed)',
              'CREATE TABLE' in r.stdout and
              '-- Dump completed' in r.stdout, r.stdout[-300:])
    time.sleep(1.1)
    r = run(tool, env=dict(env, PULSE_BACKUP_DUMP='false'))
    check('pulse-backup: a failed dump exits non-zero and leaves no file',
          r.returncode != 0 and sorted(os.listdir(bdir)) == files,
          (r.returncode, r.stdout, os.listdir(bdir)))


def systemd_tests(tmp, rel):
    if not check('systemd-analyze is installed (pulse-dev installs systemd)',
                 shutil.which('systemd-analyze')):
        return
    udir = os.path.join(tmp, 'units')
    os.makedirs(udir)
    names = []
    for f in sorted(os.listdir(os.path.join(REPO, 'deploy/systemd'))):
        if not f.endswith('.service.in'):
            continue
        with open(os.path.join(REPO, 'deploy/systemd', f)) as src:
            text = src.read()
        for k, v in (('@bindir@', rel + '/bin'), ('@sbindir@', rel + '/sbin'),
                     ('@pkgdatadir@', rel + '/share/pulse'),
                     ('@sysconfdir@', rel + '/etc')):
            text = text.replace(k, v)
        names.append(os.path.join(udir, f[:-3]))
        with open(names[-1], 'w') as dst:
            dst.write(text)
    # It runs without systemd as PID 1; it prints nothing when every
    # unit parses, its ExecStart exists and no setting is unknown.
    r = run('systemd-analyze', 'verify', '--man=no', *names)
    check('systemd-analyze verify: %d units, no complaint' % len(names),
          r.returncode == 0 and not r.stdout.strip(), r.stdout)
    # The sockets trust whoever reaches them: their group is PULSE's own
    # (issue 12), never www-data, which other web software shares.
    groups = {}
    for n in names:
        with open(n) as f:
            for line in f:
                if line.startswith('SupplementaryGroups='):
                    groups[os.path.basename(n)] = line.split('=', 1)[1].strip()
    with open(os.path.join(REPO, 'deploy/pulse.env.example')) as f:
        env_group = [ln.split('=', 1)[1].strip() for ln in f
                     if ln.startswith('PULSE_SOCKET_GROUP=')]
    check('pulse-api and pulse-pushd sockets: group pulse-web, in the '
          'units and the example .env',
          groups.get('pulse-api.service') == 'pulse-web' and
          groups.get('pulse-pushd.service') == 'pulse-web' and
          env_group == ['pulse-web'], (groups, env_group))


# pulse-dev's time limit ends a file with SIGTERM: unwind through the
# finally below, so the daemons this file started do not outlive it.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
try:
    main()
finally:
    # Always stop what we started, passed or not.
    for name, p in procs:
        p.terminate()
    for name, p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    for f in api_pidfile:
        try:
            with open(f) as fh:
                os.kill(int(fh.read().strip()), 15)
        except (OSError, ValueError):
            pass
done()
