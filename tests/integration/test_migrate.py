#!/usr/bin/env python3
"""Migrations: running them again applies nothing and changes nothing; a
migration whose record is lost (an interrupted run) applies again cleanly,
because every statement in sql/ is written to be re-runnable."""

import glob
import os
import re

from pulse_test import check, ctl, done, require, sql, have_ctl

# make install (and so pulse-deploy) ships only the migrations Makefile.am
# lists: one missing there is missing in production.
top = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
with open(os.path.join(top, 'Makefile.am')) as f:
    listed = set(re.findall(r'sql/[0-9]+_[a-z0-9_]+\.sql', f.read()))
present = {os.path.relpath(p, top)
           for p in glob.glob(os.path.join(top, 'sql', '*.sql'))}
check('every sql/*.sql is installed (listed in Makefile.am SQL_FILES)',
      present <= listed, sorted(present - listed))

require('PULSE_CTL is set', have_ctl())
before = sql('SELECT version, name FROM schema_migrations ORDER BY version')
require('migrations recorded', len(before) >= 2, before)
tables = sql('SHOW TABLES')
out = ctl('migrate')
check('a second run applies nothing', '(0 applied' in out, out)
check('schema_migrations unchanged', sql(
    'SELECT version, name FROM schema_migrations ORDER BY version') == before)
check('same tables', sql('SHOW TABLES') == tables)

last = before[-1]
sql('DELETE FROM schema_migrations WHERE version = %s' % last[0])
out = ctl('migrate')
check('a migration whose record was lost applies again without error',
      'migration %s applied' % last[1] in out and '(1 applied' in out, out)
check('and is recorded again', sql(
    'SELECT version, name FROM schema_migrations ORDER BY version') == before)
applied = {r[1] for r in sql('SELECT version, name FROM schema_migrations')}
check('every migration in sql/ is applied',
      {os.path.basename(p)[:-4] for p in present} <= applied
      or {os.path.basename(p) for p in present} <= applied,
      (sorted(present), sorted(applied)))
check('the seed tables are all there', {'users', 'workers', 'workflows',
      'executions'} <= {t[0] for t in sql('SHOW TABLES')})
done()
