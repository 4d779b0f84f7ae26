#!/usr/bin/env python3
"""The development build that ./pulse-dev up makes (configure without
--enable-werror, so gcc's default -O2, where warnings such as
-Wdangling-pointer appear that the sanitizer build never shows) compiles
every program and unit test without a single compiler warning. Built out
of tree in a temporary directory; needs no running stack.

PULSE_DEV_CFLAGS overrides the optimisation flags (default "-g -O2",
autoconf's default and so ./pulse-dev up's)."""

import os
import re
import shutil
import subprocess
import tempfile

from pulse_test import check, diag, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
CFLAGS = os.environ.get('PULSE_DEV_CFLAGS', '-g -O2')

require('configure exists (./pulse-dev builds once before the tests)',
        os.access(os.path.join(REPO, 'configure'), os.X_OK),
        os.path.join(REPO, 'configure'))
tmp = tempfile.mkdtemp(prefix='pulse-devbuild.', dir='/tmp')
try:
    p = subprocess.run([os.path.join(REPO, 'configure'), '-q',
                        'CFLAGS=' + CFLAGS], cwd=tmp, capture_output=True,
                       text=True, timeout=300)
    require('configure (as ./pulse-dev up runs it) succeeds',
            p.returncode == 0, p.stderr[-2000:])
    # -k: every file gets compiled, so every warning is seen at once.
    # One goal a run, as ./pulse-dev builds: `all check` in one -j2 make
    # runs automake's two recursive makes at once in one directory, and
    # they race on the same .deps files.
    stderr, rc = '', 0
    for goal in (['all'], ['check', 'TESTS=']):
        p = subprocess.run(['nice', 'make', '-k', '-j2'] + goal, cwd=tmp,
                           capture_output=True, text=True, timeout=1800)
        stderr += p.stderr
        rc = rc or p.returncode
    check('the dev build (make all, then make check TESTS=) succeeds',
          rc == 0, stderr[-3000:])
    warnings = [line for line in stderr.splitlines()
                if re.search(r'\bwarning:', line)]
    context = [line for line in stderr.splitlines()
               if re.search(r'\b(warning|note):|^\s+\d+ \|', line)]
    check('no compiler warning in the dev build (%d found)' % len(warnings),
          not warnings, '\n'.join(context[:60]))
    diag('CFLAGS=%s' % CFLAGS)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
