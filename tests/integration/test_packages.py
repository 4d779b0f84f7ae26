#!/usr/bin/env python3
"""The Debian packages (debian/, SPEC §12): `./pulse-dev package OUTDIR`
builds pulse-worker and pulse-server from a scratch copy of the checkout
and lints them; this file checks what came out. Needs no running stack.

- both .debs exist, their versions are configure.ac's;
- their file lists have the programs, units, migrations (every sql/*.sql
  of this checkout), dashboard (every file of static/), nginx snippets,
  tools and env files; the units start the packaged paths;
- /etc/pulse/worker.env and /etc/pulse/pulse.env are conffiles, modes
  0600 and 0640, with placeholders only (no key, token or password);
- lintian reported no error (E:) tag;
- nothing is enabled or started by the maintainer scripts;
- the worker package unpacked with `dpkg -x` has the unit and conffile,
  its pulse-worker runs, and pulse-api accepts both conffiles' keys;
- pulse-worker installs into a scratch root with `dpkg --root` (scripts
  run outside a chroot with DPKG_ROOT, --force-script-chrootless): the
  state directory 0700, no unit enabled, the next step printed while it
  is unconfigured, an edited conffile kept on reinstall, and a purge
  removing the conffile and the state directory.

PULSE_PACKAGE_DIR: check the packages already built there instead of
building (for working on this file)."""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

from pulse_test import at_end, check, diag, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))

# A real secret would look like these: a worker key or enrollment token
# (43 base64url characters, trust contract) or a 64-hex SHA-256 / openssl
# rand -hex 32 value.
SECRET_RES = (re.compile(r'(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])'),
              re.compile(r'(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])'))


def run(argv, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    kw.setdefault('timeout', 120)
    return subprocess.run(argv, **kw)


def ac_version():
    with open(os.path.join(REPO, 'configure.ac')) as f:
        m = re.search(r'AC_INIT\(\[pulse\],\s*\[([^]]+)\]', f.read())
    return m.group(1) if m else None


def deb_field(deb, field):
    return run(['dpkg-deb', '-f', deb, field]).stdout.strip()


def deb_files(deb):
    """{path: (mode string, size)} of a .deb (dpkg-deb -c), './' stripped."""
    files = {}
    for line in run(['dpkg-deb', '-c', deb]).stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6:
            path = parts[5].split(' -> ')[0]
            files['/' + path[2:].rstrip('/')] = parts[0]
    return files


def env_values(path):
    """KEY=VALUE lines that are not comments, as a dict."""
    vals = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*([A-Z][A-Z0-9_]*)\s*=(.*)$', line)
            if m:
                vals[m.group(1)] = m.group(2).strip()
    return vals


def placeholders_only(path, secrets, defaults):
    """Problems with the env file at path: a secret key set to anything
    but empty or a <...> placeholder, a value not in `defaults` that is
    not a placeholder, or anything shaped like a real key in the text."""
    bad = []
    with open(path) as f:
        text = f.read()
    for key, val in env_values(path).items():
        placeholder = val == '' or re.fullmatch(r'[^<>]*<[^<>]+>[^<>]*', val)
        if key in secrets and not placeholder:
            bad.append('%s=%s is not a placeholder' % (key, val))
        elif key not in secrets and not placeholder and defaults.get(key) != val:
            bad.append('%s=%s: neither a placeholder nor a known default' % (key, val))
    for r in SECRET_RES:
        bad += ['looks like a secret: %s' % m for m in r.findall(text)]
    return bad


def maint_script(deb, name, tmp):
    d = os.path.join(tmp, 'ctl-' + os.path.basename(deb))
    if not os.path.isdir(d):
        run(['dpkg-deb', '-e', deb, d])
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return ''
    with open(p) as f:
        return f.read()


tmp = tempfile.mkdtemp(prefix='pulse-packages.', dir='/tmp')
# Kept after a failure, to look at (the packages are in OUTDIR there).
at_end(lambda: shutil.rmtree(tmp, ignore_errors=True))
diag('scratch directory: %s' % tmp)
out = os.environ.get('PULSE_PACKAGE_DIR') or os.path.join(tmp, 'out')


def worktree():
    """git status of the checkout, ignored files included (None: no git)."""
    r = run(['git', '-C', REPO, 'status', '--porcelain', '--ignored',
             '--untracked-files=all', '--', '.', ':!build', ':!tests/artifacts'])
    return r.stdout if r.returncode == 0 else None


if not os.environ.get('PULSE_PACKAGE_DIR'):
    before = worktree()
    t0 = time.monotonic()
    p = run([os.path.join(REPO, 'pulse-dev'), 'package', out], timeout=1500)
    took = time.monotonic() - t0
    require('./pulse-dev package OUTDIR succeeds (dpkg-buildpackage, then '
            'lintian --fail-on error)', p.returncode == 0,
            (p.stdout + p.stderr)[-3000:])
    diag('./pulse-dev package took %.0f s (build, copy and lintian)' % took)
    listed = [line for line in p.stdout.splitlines() if line.endswith('.deb')]
    check('it prints where the .debs are', listed and
          all(os.path.exists(x) and os.path.dirname(x) == out for x in listed),
          p.stdout)
    after = worktree()
    check('nothing was written into the checkout (git status, ignored '
          'files too, is the same before and after)', before == after,
          '\n'.join(['+ ' + x for x in sorted(
              set((after or '').splitlines()) - set((before or '').splitlines()))] +
              ['- ' + x for x in sorted(
              set((before or '').splitlines()) - set((after or '').splitlines()))])[:2000])

# --- Build-Depends ------------------------------------------------------------
# Complete for what configure.ac checks (a library added there, libcurl
# say, must be added to debian/control too), and each installed by
# ./pulse-dev's PACKAGES, so that `./pulse-dev package` on a fresh Debian
# finds them: dpkg-buildpackage refuses to build with one missing.
with open(os.path.join(REPO, 'debian', 'control')) as f:
    m = re.search(r'^Build-Depends:(.*?)(?=^\S)', f.read(), re.M | re.S)
bdeps = [[re.sub(r'[\s(\[].*', '', alt.strip()) for alt in dep.split('|')]
         for dep in (m.group(1).split(',') if m else []) if dep.strip()]
with open(os.path.join(REPO, 'configure.ac')) as f:
    modules = re.findall(r'PKG_CHECK_MODULES\(\[\w+\],\s*\[([\w.+-]+)', f.read())
unlisted = []
for mod in modules:
    pc = run(['pkg-config', '--path', mod]).stdout.strip()
    owner = run(['dpkg', '-S', os.path.realpath(pc) if pc else mod])
    pkg = owner.stdout.split(':')[0] if owner.returncode == 0 else None
    if not pkg or not any(pkg in alts for alts in bdeps):
        unlisted.append('%s (%s)' % (mod, pkg or 'no .pc file found'))
check('Build-Depends names the package of every pkg-config module '
      'configure.ac checks (%d)' % len(modules), modules and not unlisted,
      unlisted)
with open(os.path.join(REPO, 'pulse-dev')) as f:
    m = re.search(r'^PACKAGES=\((.*?)\)', f.read(), re.M | re.S)
packages = set(m.group(1).split()) if m else set()
packages |= {'debhelper-compat'} if 'debhelper' in packages else set()
absent = ['|'.join(alts) for alts in bdeps if not packages & set(alts)]
check('./pulse-dev installs every Build-Depends (PACKAGES)', bdeps and
      not absent, absent)

version = ac_version()
debs = {}
for pkg in ('pulse-worker', 'pulse-server'):
    path = os.path.join(out, '%s_%s_%s.deb' % (
        pkg, version, run(['dpkg', '--print-architecture']).stdout.strip()))
    debs[pkg] = path
    require('%s .deb of version %s (configure.ac) exists' % (pkg, version),
            os.path.exists(path), sorted(os.listdir(out)))
    check('%s: Version is %s' % (pkg, version),
          deb_field(path, 'Version') == version, deb_field(path, 'Version'))
worker, server = debs['pulse-worker'], debs['pulse-server']

# --- file lists ------------------------------------------------------------
wfiles, sfiles = deb_files(worker), deb_files(server)
for path in ('/usr/bin/pulse-worker', '/lib/systemd/system/pulse-worker.service',
             '/etc/pulse/worker.env', '/usr/share/man/man8/pulse-worker.8.gz',
             '/usr/share/doc/pulse-worker/copyright'):
    check('pulse-worker ships %s' % path, path in wfiles, sorted(wfiles))
check('pulse-worker has no control-center program', not any(
    p.endswith(('/pulse-api', '/pulse-pushd')) for p in wfiles))

want = ['/usr/bin/pulse-api', '/usr/bin/pulse-pushd', '/usr/sbin/pulse-deploy',
        '/usr/sbin/pulse-backup', '/etc/pulse/pulse.env',
        '/lib/systemd/system/pulse-api.service',
        '/lib/systemd/system/pulse-pushd.service',
        '/lib/systemd/system/pulse-webhook.service',
        '/usr/share/pulse/webhook/hooks.json']
for name in ('pulse-api', 'pulse-pushd', 'pulse-deploy', 'pulse-backup'):
    want.append('/usr/share/man/man8/%s.8.gz' % name)
missing = [p for p in want if p not in sfiles]
check('pulse-server ships its programs, tools, units, hook, man pages and '
      'pulse.env (%d files)' % len(want), not missing, missing)
# The trees as this checkout has them: a new migration or dashboard file
# that `make install` forgets (SQL_FILES in Makefile.am) fails here.
for tree, pattern in (('sql', r'.*\.sql$'), ('static', r'.*'),
                      ('nginx', r'[^/]*\.conf$')):
    mine = []
    for root, dirs, names in os.walk(os.path.join(REPO, tree)):
        if tree == 'nginx':
            dirs[:] = []	# nginx/dev/ is the development config
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), REPO)
            if re.fullmatch(pattern, rel[len(tree) + 1:]):
                mine.append(rel)
    gone = [r for r in mine if '/usr/share/pulse/' + r not in sfiles]
    check('pulse-server has every %s/ file of the checkout (%d) under '
          '/usr/share/pulse/%s' % (tree, len(mine), tree),
          mine and not gone, gone or 'none found in %s' % tree)
check('pulse-server has no worker agent',
      '/usr/bin/pulse-worker' not in sfiles)

wdeps, sdeps = deb_field(worker, 'Depends'), deb_field(server, 'Depends')
for lib in ('libjson-c', 'libwebsockets', 'libuuid', 'libssl', 'libc6'):
    check('pulse-worker Depends on %s (shlibs)' % lib, lib in wdeps, wdeps)
check('pulse-worker does not depend on MariaDB (the agent does not link it)',
      'mariadb' not in wdeps, wdeps)
check('pulse-worker does not depend on libcurl (pulse-pushd alone sends '
      'notifications)', 'libcurl' not in wdeps, wdeps)
for lib in ('libfcgi', 'libmariadb', 'libjson-c', 'libwebsockets', 'libuuid',
            'libcurl4', 'adduser'):
    check('pulse-server Depends on %s' % lib, lib in sdeps, sdeps)

# --- conffiles, modes, maintainer scripts ----------------------------------
for deb, conf, mode in ((worker, '/etc/pulse/worker.env', '-rw-------'),
                        (server, '/etc/pulse/pulse.env', '-rw-r-----')):
    cf = run(['dpkg-deb', '-I', deb, 'conffiles'])
    check('%s: dpkg-deb -I conffiles lists %s' % (os.path.basename(deb), conf),
          conf in cf.stdout.split(), cf.stdout + cf.stderr)
    got = (wfiles if deb == worker else sfiles).get(conf)
    check('%s is mode %s in the package' % (conf, mode), got == mode, got)

for deb, units in ((worker, ['pulse-worker.service']),
                   (server, ['pulse-api.service', 'pulse-pushd.service',
                             'pulse-webhook.service'])):
    name = os.path.basename(deb)
    post = maint_script(deb, 'postinst', tmp)
    # Any action but try-restart ($_dh_action is start on a first install).
    starts = [a for a in re.findall(r'deb-systemd-invoke\s+(\S+)', post)
              if a != 'try-restart']
    check('%s: the postinst starts nothing (at most try-restart of a '
          'running unit on upgrade)' % name, not starts, starts)
    # dh_installsystemd --no-enable: a unit is enabled again only if the
    # admin had it enabled (debian-installed + was-enabled), never first.
    lazy = [u for u in units
            if "deb-systemd-helper debian-installed '%s'" % u in post]
    check('%s: the postinst enables no unit on a first install' % name,
          lazy == units, post[-1500:])
    pre = maint_script(deb, 'prerm', tmp)
    check('%s: the prerm stops its units on removal' % name,
          all(u in pre for u in units) and 'deb-systemd-invoke stop' in pre,
          pre)

# --- lintian ----------------------------------------------------------------
lint = os.path.join(out, 'lintian.txt')
if check('lintian ran: its report is in OUTDIR', os.path.exists(lint)):
    with open(lint) as f:
        report = f.read()
    errors = [line for line in report.splitlines() if line.startswith('E:')]
    check('lintian: no error tag (E:) on the .debs, .changes and .buildinfo',
          not errors, '\n'.join(errors))
    tags = {}
    for line in report.splitlines():
        if re.match(r'[EWIPXO]: ', line):
            tags[line[0]] = tags.get(line[0], 0) + 1
    diag('lintian tags by level: %s' % (tags or 'none'))

# --- the worker package unpacked -------------------------------------------
root = os.path.join(tmp, 'unpacked')
x = run(['dpkg', '-x', worker, root])
require('dpkg -x pulse-worker into a scratch root', x.returncode == 0, x.stderr)
unit = os.path.join(root, 'lib/systemd/system/pulse-worker.service')
conf = os.path.join(root, 'etc/pulse/worker.env')
require('the unpacked tree has the unit and the conffile',
        os.path.isfile(unit) and os.path.isfile(conf))
with open(unit) as f:
    utext = f.read()
check('the unit starts /usr/bin/pulse-worker with /etc/pulse/worker.env',
      re.search(r'^ExecStart=/usr/bin/pulse-worker\s*$', utext, re.M) and
      re.search(r'^EnvironmentFile=/etc/pulse/worker.env$', utext, re.M),
      utext)
check('the unit has no unfilled @...@ template and no /usr/local path',
      not re.search(r'@[a-z]+@|/usr/local', utext), utext)
check('the unit runs the agent as root (no User=: it runs operators\' '
      'commands)', not re.search(r'^User=', utext, re.M), utext)
check('worker.env unpacked as mode 0600',
      stat.S_IMODE(os.stat(conf).st_mode) == 0o600,
      oct(os.stat(conf).st_mode))
vals = env_values(conf)
for key in ('PULSE_SERVER', 'PULSE_ENROLL_TOKEN', 'WORKER_NAME',
            'WORKER_STATE_DIR'):
    check('worker.env sets %s' % key, key in vals, vals)
check('worker.env: PULSE_ENROLL_TOKEN is empty, WORKER_STATE_DIR is '
      '/var/lib/pulse-worker',
      vals.get('PULSE_ENROLL_TOKEN') == '' and
      vals.get('WORKER_STATE_DIR') == '/var/lib/pulse-worker', vals)
with open(conf) as f:
    ctext = f.read()
check('worker.env has WORKER_ALLOW_FILE and PULSE_WS commented out',
      re.search(r'^#\s*WORKER_ALLOW_FILE=', ctext, re.M) and
      re.search(r'^#\s*PULSE_WS=', ctext, re.M) and
      'WORKER_ALLOW_FILE' not in vals and 'PULSE_WS' not in vals, ctext)
bad = placeholders_only(conf, {'PULSE_ENROLL_TOKEN', 'WORKER_API_KEY'},
                        {'WORKER_STATE_DIR': '/var/lib/pulse-worker'})
check('worker.env holds placeholders only (no token, key or real server)',
      not bad, bad)

sroot = os.path.join(tmp, 'server')
run(['dpkg', '-x', server, sroot])
sconf = os.path.join(sroot, 'etc/pulse/pulse.env')
bad = placeholders_only(
    sconf, {'DB_PASSWORD', 'WORKER_API_KEY', 'SECRET_KEY'},
    {k: v for k, v in env_values(os.path.join(REPO, 'deploy',
                                              'pulse.env.example')).items()
     if '<' not in v})
check('pulse.env holds placeholders only (password and keys are <...>; '
      'the rest are deploy/pulse.env.example\'s defaults)', not bad, bad)
with open(os.path.join(sroot, 'lib/systemd/system/pulse-api.service')) as f:
    api_unit = f.read()
check('pulse-api.service migrates from /usr/share/pulse/sql and starts '
      '/usr/bin/pulse-api',
      'ExecStartPre=/usr/bin/pulse-api --migrate /usr/share/pulse/sql' in api_unit
      and re.search(r'^ExecStart=/usr/bin/pulse-api$', api_unit, re.M), api_unit)

with open(os.path.join(sroot, 'usr/share/pulse/nginx/pulse.conf')) as f:
    site = f.read()
check('the example nginx site serves /usr/share/pulse/static and names no '
      '/usr/local path', 'root\t\t/usr/share/pulse/static;' in site and
      '/usr/local' not in site, re.findall(r'.*(?:root|/usr/local).*', site))

# The packaged programs run from the unpacked trees (their libraries
# resolve), and the one config parser they share accepts every key the
# conffiles set: pulse-api --check-config with each file. The socket group
# is cleared: pulse-web exists only where pulse-server's postinst ran.
exe = os.path.join(root, 'usr/bin/pulse-worker')
r = run([exe, '-h'], env={'PATH': '/usr/bin:/bin'})
check('the unpacked pulse-worker runs: -h prints its usage',
      r.returncode == 2 and r.stderr.startswith('usage: pulse-worker'),
      'rc %d: %s' % (r.returncode, r.stderr[-500:]))
# Started by hand before it is configured, the packaged agent with the
# packaged worker.env stops at once, naming what to set: it never goes
# looking for a server (PULSE_SERVER is a placeholder, there is no token).
wstate = os.path.join(tmp, 'wstate')
os.mkdir(wstate, 0o700)
try:
    r = run([exe, '-e', conf], timeout=20,
            env={'PATH': '/usr/bin:/bin', 'WORKER_STATE_DIR': wstate})
    rc, err = r.returncode, r.stderr
except subprocess.TimeoutExpired:
    rc, err = None, 'still running after 20 s'
check('the agent with worker.env as shipped stops at once, naming '
      'PULSE_SERVER or PULSE_ENROLL_TOKEN, and stores no key',
      rc not in (0, None) and re.search(r'PULSE_SERVER|PULSE_ENROLL_TOKEN', err)
      and not os.path.exists(os.path.join(wstate, 'key')),
      'rc %s: %s' % (rc, err[-800:]))
api = os.path.join(sroot, 'usr/bin/pulse-api')
for path in (sconf, conf):
    r = run([api, '-e', path, '--check-config'],
            env={'PATH': '/usr/bin:/bin', 'PULSE_SOCKET_GROUP': ''})
    check('the packaged pulse-api --check-config accepts %s' %
          os.path.basename(path),
          r.returncode == 0 and 'configuration OK' in r.stdout,
          'rc %d: %s%s' % (r.returncode, r.stdout, r.stderr[-800:]))

# --- dpkg --root: the worker package installed into a scratch root ----------
# dpkg --root alone would chroot into the root to run the maintainer
# scripts, which needs a whole system there; --force-script-chrootless
# runs them here with DPKG_ROOT set, which they (and debhelper's systemd
# snippets) honour. --force-depends: the scratch root has no libc6.
inst = os.path.join(tmp, 'root')
for d in ('var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log'):
    os.makedirs(os.path.join(inst, d))
open(os.path.join(inst, 'var/lib/dpkg/status'), 'w').close()
dpkg = ['dpkg', '--root=' + inst, '--force-script-chrootless',
        '--force-depends', '--log=' + os.path.join(inst, 'var/log/dpkg.log')]
r = run(dpkg + ['-i', worker])
require('dpkg --root installs pulse-worker into a scratch root',
        r.returncode == 0, r.stdout + r.stderr)
check('the postinst says what to do next while it is unconfigured',
      'PULSE_ENROLL_TOKEN' in r.stdout and
      'systemctl enable --now pulse-worker' in r.stdout, r.stdout)
s = run(['dpkg', '--root=' + inst, '-s', 'pulse-worker'])
check('dpkg in the scratch root has it "install ok installed"',
      'Status: install ok installed' in s.stdout, s.stdout + s.stderr)
state = os.path.join(inst, 'var/lib/pulse-worker')
check('/var/lib/pulse-worker created, mode 0700',
      os.path.isdir(state) and stat.S_IMODE(os.stat(state).st_mode) == 0o700)
for p in ('lib/systemd/system/pulse-worker.service', 'etc/pulse/worker.env',
          'usr/bin/pulse-worker'):
    check('installed: /%s' % p, os.path.exists(os.path.join(inst, p)))
wants = [os.path.join(d, n) for d, _, ns in os.walk(os.path.join(inst, 'etc'))
         for n in ns if n == 'pulse-worker.service']
check('the unit is not enabled (no .wants link in the root)', not wants, wants)
host = '/etc/systemd/system/multi-user.target.wants/pulse-worker.service'
check('nothing was enabled on this host either', not os.path.lexists(host))

# The admin writes the token: a reinstall keeps the edited conffile and no
# longer prints the next step (the agent is configured).
iconf = os.path.join(inst, 'etc/pulse/worker.env')
with open(iconf) as f:
    text = f.read()
token = 'T' * 43
with open(iconf, 'w') as f:
    f.write(text.replace('PULSE_ENROLL_TOKEN=\n',
                         'PULSE_ENROLL_TOKEN=%s\n' % token))
r = run(dpkg + ['-i', worker])
with open(iconf) as f:
    kept = f.read()
check('reinstalling keeps the admin\'s worker.env (a conffile)',
      r.returncode == 0 and 'PULSE_ENROLL_TOKEN=%s\n' % token in kept,
      r.stdout + r.stderr)
check('configured: the postinst no longer prints the next step',
      'systemctl enable --now' not in r.stdout, r.stdout)

with open(os.path.join(state, 'key'), 'w') as f:
    f.write('k\n')
r = run(dpkg + ['--purge', 'pulse-worker'])
check('dpkg --purge removes it, its conffile and its state (key included)',
      r.returncode == 0 and not os.path.exists(iconf) and
      not os.path.exists(state) and
      not os.path.exists(os.path.join(inst, 'usr/bin/pulse-worker')),
      r.stdout + r.stderr)

done()
