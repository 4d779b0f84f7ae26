#!/usr/bin/env python3
"""Migrations: running them again applies nothing and changes nothing; a
migration whose record is lost (an interrupted run) applies again cleanly,
because every statement in sql/ is written to be re-runnable."""

from pulse_test import check, ctl, done, require, sql, have_ctl

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
check('the seed tables are all there', {'users', 'workers', 'workflows',
      'executions'} <= {t[0] for t in sql('SHOW TABLES')})
done()
