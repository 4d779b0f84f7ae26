#!/usr/bin/env python3
"""The dashboard tests run on a Debian 12 machine whose only Node.js is
Debian's own (nodejs 18.20.4): the playwright-core that tests/e2e pins
must accept Node 18 in its engines field (1.62 and later require 20 and
refuse to start: "Playwright requires Node.js 20 or higher"), and
package.json and package-lock.json must agree so that `npm ci` installs
exactly it. With PULSE_NODE18 naming a Node 18 binary, also check that
that playwright-core loads under it (the e2e files themselves run under
it against a stack as ./pulse-dev test runs them). Needs no stack."""

import json
import os
import re
import subprocess

from pulse_test import check, diag, done, require

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.normpath(os.path.join(HERE, '..', 'e2e'))
DEBIAN12_NODE = (18, 20, 4)     # bookworm's nodejs 18.20.4+dfsg


def accepts(rng, version):
    """Whether an npm engines range of the forms '>=A[.B[.C]]' (the only
    one playwright-core has used) accepts version."""
    m = re.fullmatch(r'\s*>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*', rng or '')
    if m is None:
        return None
    want = tuple(int(x or 0) for x in m.groups())
    return version >= want


with open(os.path.join(E2E, 'package.json'), encoding='utf-8') as f:
    pkg = json.load(f)
with open(os.path.join(E2E, 'package-lock.json'), encoding='utf-8') as f:
    lock = json.load(f)
want = pkg.get('dependencies', {}).get('playwright-core')
locked = lock.get('packages', {}).get('node_modules/playwright-core', {})
require('package.json pins an exact playwright-core',
        isinstance(want, str) and re.fullmatch(r'\d+\.\d+\.\d+', want), want)
check('package-lock.json locks the same version (%s)' % want,
      locked.get('version') == want and
      lock['packages'][''].get('dependencies', {}).get('playwright-core')
      == want, locked)
check('the lock has its integrity hash (npm ci checks it)',
      str(locked.get('integrity', '')).startswith('sha512-'), locked)
engines = locked.get('engines', {}).get('node')
ok = accepts(engines, DEBIAN12_NODE)
check('playwright-core %s accepts Debian 12\'s Node.js %s (engines %r)'
      % (want, '.'.join(map(str, DEBIAN12_NODE)), engines), ok is True,
      locked)

node18 = os.environ.get('PULSE_NODE18')
if node18:
    p = subprocess.run([node18, '-e', 'const pw = require("playwright-core");'
                        'console.log(process.version, typeof '
                        'pw.chromium.launch)'], cwd=E2E,
                       capture_output=True, text=True, timeout=120)
    diag(p.stdout + p.stderr)
    check('playwright-core loads under %s' % node18,
          p.returncode == 0 and p.stdout.startswith('v18.') and
          'function' in p.stdout, p.stderr)
done()
