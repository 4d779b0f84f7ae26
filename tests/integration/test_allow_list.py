#!/usr/bin/env python3
"""WORKER_ALLOW_FILE on real agents (SPEC section 12, README "Allow-list").

A worker started with an allow-list runs what a rule allows and refuses
the rest without running it: each refused command would create a file,
and after a later allowed command has finished on the same worker
(commands run in order of arrival here) none of those files exists, the
agent's journal of started commands does not name them, and the API
shows the dispatch `refused` with the reason, the step and the execution
failed. The glob edge cases are tried on the real agent: `*` inside
quotes, a newline, a command that is a prefix of an allowed one, one
with `; ...`, `$(...)` or backticks appended. An empty file refuses
everything. Fail closed: an agent whose allow-list is missing,
group-writable, world-writable, a directory, not owned by root or its
user, a relative path, or holds a rule that does not parse exits
non-zero at start, naming the reason (and the line), and never connects.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from live import online, run, execute, wait_execution  # noqa
from pulse_test import (at_end, check, ctl, diag, done, find_worker,  # noqa
                        require, skip, unique, URL,
                        WORKER_API_KEY)

BIN = os.environ.get('PULSE_BIN', '')
STACK = os.environ.get('PULSE_STACK', '')
AGENT = os.path.join(BIN, 'pulse-worker')
require('PULSE_BIN has pulse-worker and PULSE_STACK is set',
        os.access(AGENT, os.X_OK) and STACK != '', (AGENT, STACK))

TMP = tempfile.mkdtemp(prefix='pulse-allow.')
os.chmod(TMP, 0o755)
OUT = os.path.join(TMP, 'out')      # what commands create
os.mkdir(OUT)
os.chmod(OUT, 0o777)
q = shlex.quote
SECRET = 'allowlist-secret-' + os.urandom(6).hex()


def allow_file(name, text, mode=0o644):
    path = os.path.join(TMP, name)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def made(name):
    return os.path.exists(os.path.join(OUT, name))


def out(name):
    return os.path.join(OUT, name)


RULES = allow_file('allow.list', r'''# pulse-worker allow-list for the test: one shell glob a line
touch OUT/allowed-[0-9]
echo allowed-*
  touch 'OUT/q*'
printf \'%s\\n\' quoted\ blank
touch OUT/end-* OUT/end-z
'''.replace('OUT', OUT).replace("'\n", "' \t\r\n"))  # blanks, CRLF

started = []


def start(name, path, **env):
    extra = dict(env)
    if path is not None:
        extra['WORKER_ALLOW_FILE'] = path
    ctl('worker-start', name, '', *['%s=%s' % kv for kv in extra.items()])
    started.append(name)
    return online(name, 60)


def log_of(name):
    try:
        with open(os.path.join(STACK, 'log', 'worker-%s.log' % name),
                  errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def journal_of(name):
    try:
        with open(os.path.join(STACK, 'workers', name, 'started')) as f:
            return f.read()
    except FileNotFoundError:
        return ''


def run_on(name, command):
    return run([execute('s', command, ['name:' + name])], prefix='allow')


def finish(e):
    return wait_execution(e['id'], timeout=60) if e else None


def dispatch(e):
    try:
        return e['steps'][0]['dispatches'][0]
    except (TypeError, KeyError, IndexError):
        return {}


def fail_closed(label, path, want, uid_ok=True):
    """Run the agent directly with WORKER_ALLOW_FILE=path: it must exit
    non-zero at once, saying `want`, and never show up as a worker."""
    name = unique('allow-bad')
    state = os.path.join(TMP, 'state-' + name)
    env = {
        'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:'
                '/bin',
        'HOME': TMP,
        'PULSE_SERVER': URL,
        'WORKER_API_KEY': WORKER_API_KEY,
        'WORKER_NAME': name,
        'WORKER_STATE_DIR': state,
        'WORKER_ALLOW_FILE': path,
        'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', ''),
        'UBSAN_OPTIONS': os.environ.get('UBSAN_OPTIONS', ''),
    }
    try:
        p = subprocess.run([AGENT], env=env, cwd=TMP, capture_output=True,
                           text=True, errors='replace', timeout=20)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = None, str(e.stderr or '')
    check('fail closed, %s: the agent exits non-zero at start' % label,
          rc is not None and rc != 0, (rc, err[-400:]))
    check('fail closed, %s: it says why (%s)' % (label, want),
          'WORKER_ALLOW_FILE' in err and want in err, err[-400:])
    check('fail closed, %s: it never registered' % label,
          find_worker(name) is None)


try:
    # --- an allow-list on a running agent --------------------------------
    W = unique('allow')
    require('an agent with WORKER_ALLOW_FILE comes online',
            start(W, RULES) is not None, log_of(W)[-800:])
    check('its log says how many rules it read',
          ('WORKER_ALLOW_FILE %s: 5 rule(s)' % RULES) in log_of(W),
          log_of(W)[-800:])

    e = finish(run_on(W, 'touch %s' % q(out('allowed-1'))))
    check('an allowed command runs: completed, its file exists',
          e and e['status'] == 'completed' and made('allowed-1'), e)
    e = finish(run_on(W, 'echo allowed-two'))
    check('allowed by a rule with *: completed, its output',
          e and e['status'] == 'completed' and
          dispatch(e).get('stdout') == 'allowed-two\n', dispatch(e))
    e = finish(run_on(W, 'touch %s/q*' % OUT))
    check("'*' inside quotes in a rule matches a '*' (blanks, CRLF)",
          e and e['status'] == 'completed' and made('q*'), e)
    e = finish(run_on(W, "printf '%s\\n' quoted blank"))
    check("escaped quotes, \\\\ and an escaped blank in a rule",
          e and e['status'] == 'completed' and
          dispatch(e).get('stdout') == 'quoted\nblank\n', dispatch(e))

    # Every one of these would create a file if it ran.
    refused = {
        'not in the list': 'touch %s' % q(out('other')),
        'a prefix of an allowed command': 'touch %s' % out('allowed-'),
        'an allowed command with more appended':
            'touch %s %s' % (out('allowed-2'), out('appended')),
        "an allowed command with '; touch' appended":
            'echo allowed-1; touch %s' % out('semicolon'),
        "an allowed command with '&& touch' appended":
            'echo allowed-1 && touch %s' % out('and'),
        "an allowed command with '| touch' appended":
            'echo allowed-1 | touch %s' % out('pipe'),
        'a $(...) substitution in a * position':
            'echo allowed-$(touch %s)' % out('subst'),
        'backticks in a * position':
            'echo allowed-`touch %s`' % out('backtick'),
        'a redirection in a * position':
            'echo allowed-x >%s' % out('redirect'),
        'a newline and a second command':
            'echo allowed-1\ntouch %s' % out('newline'),
        "'*' inside quotes in a rule does not match other text":
            'touch %s/qx' % OUT,
        "a '#' in a * position makes the rule's tail a comment":
            'touch %s # %s' % (out('end-x'), out('end-z')),
        "a backslash in a * position joins the rule's tail to a word":
            'touch %s\\  %s' % (out('end-a'), out('end-z')),
        'a command that carries a secret':
            'touch %s # %s' % (out('secret'), SECRET),
    }
    files = ['other', 'allowed-', 'appended', 'allowed-2', 'semicolon', 'and',
             'pipe', 'subst', 'backtick', 'redirect', 'newline',
             'qx', 'secret', 'end-x', 'end-a ', 'end-z']
    started_e = {k: run_on(W, c) for k, c in refused.items()}
    ended = {k: finish(v) for k, v in started_e.items()}
    # A command after them, on the same agent: when it is done, anything
    # the refused ones would have run had its chance to show.
    e = finish(run_on(W, 'touch %s' % q(out('allowed-9'))))
    require('an allowed command after the refused ones completed',
            e and e['status'] == 'completed' and made('allowed-9'), e)
    reason = 'refused by WORKER_ALLOW_FILE (%s): no rule matches' % RULES
    journal = journal_of(W)
    log = log_of(W)
    for k, e in ended.items():
        d = dispatch(e)
        check('refused, %s: dispatch refused with the reason' % k,
              d.get('status') == 'refused' and d.get('error') == reason and
              d.get('exit_code') is None and d.get('stderr') == reason, d)
        check('refused, %s: the step and the execution failed, saying why'
              % k, e and e['status'] == 'failed' and
              e['steps'][0]['status'] == 'failed' and
              'refused' in (e['steps'][0].get('reason') or '') and
              reason in (e.get('error') or ''), e)
        check('refused, %s: never journaled as started' % k,
              d.get('id') and d['id'] not in journal, d.get('id'))
        check('refused, %s: logged once' % k,
              d.get('id') and log.count('command %s: %s' %
                                        (d['id'], reason)) == 1)
    made_files = [f for f in files if made(f)]
    check('no refused command ran: none of their files exists',
          made_files == [], made_files)
    check('the agent never logs a refused command itself',
          SECRET not in log)

    # --- an empty allow-list refuses everything --------------------------
    E = unique('allow-empty')
    empty = allow_file('empty.list', '# nothing is allowed here\n\n')
    require('an agent with an empty allow-list comes online',
            start(E, empty) is not None, log_of(E)[-800:])
    check('its log says everything will be refused',
          'has no rules: every command will be refused' in log_of(E),
          log_of(E)[-800:])
    e = finish(run_on(E, 'touch %s' % q(out('empty'))))
    d = dispatch(e)
    check('an empty allow-list refuses a command',
          d.get('status') == 'refused' and e['status'] == 'failed' and
          empty in (d.get('error') or ''), d)
    e = finish(run_on(E, 'true'))
    check('... any command',
          e and dispatch(e).get('status') == 'refused', dispatch(e))
    check('... and it did not run', not made('empty'))

    # --- fail closed at start --------------------------------------------
    fail_closed('missing file', os.path.join(TMP, 'no-such.list'),
                'No such file or directory')
    fail_closed('group-writable', allow_file('gw.list', 'true\n', 0o664),
                'writable by its group or by others (mode 0664)')
    fail_closed('world-writable', allow_file('ww.list', 'true\n', 0o646),
                'writable by its group or by others (mode 0646)')
    fail_closed('a directory', OUT, 'not a regular file')
    fail_closed('a relative path', 'allow.list', 'not an absolute path')
    fail_closed('unterminated quote on line 3',
                allow_file('bad1.list', '# ok\nuptime\necho \'abc\n'),
                'bad1.list line 3: unterminated \' quote')
    fail_closed('unterminated [ class on line 2',
                allow_file('bad2.list', 'uptime\nls [abc\n'),
                'bad2.list line 2: unterminated [ class')
    fail_closed('a trailing backslash on line 1',
                allow_file('bad3.list', 'echo \\\n'),
                'bad3.list line 1: a trailing backslash')
    fail_closed('a line over 4096 bytes on line 2',
                allow_file('bad4.list', 'ok\n' + 'a' * 4097 + '\n'),
                'bad4.list line 2: longer than 4096 bytes')
    if os.geteuid() == 0:
        other = allow_file('other.list', 'true\n')
        os.chown(other, 65534, -1)
        fail_closed('owned by neither root nor the agent\'s user', other,
                    'owned by uid 65534, neither root nor this agent\'s '
                    'user (uid 0)')
    else:
        skip('fail closed: a file owned by another user',
             'needs root to give a file away (tests/unit covers it)')
finally:
    for name in started:
        try:
            ctl('worker-stop', name)
        except Exception as ex:  # best effort
            diag('stop %s: %s' % (name, ex))

at_end(lambda: shutil.rmtree(TMP, ignore_errors=True))
done()
