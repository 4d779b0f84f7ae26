#!/usr/bin/env python3
"""Migrations: running them again applies nothing and changes nothing; a
migration whose record is lost (an interrupted run) applies again cleanly,
because every statement in sql/ is written to be re-runnable; a version-1
database (migrated to 005, with data) upgrades with its data intact and
every workflow gets its version 1, and the language's columns (010)
hold on the old rows what a version-1 row always meant. For Galera
(DESIGN section 12): every table has a primary key and is InnoDB; two
migrators at once apply each file once (a guard row in schema_lock, as
GET_LOCK is local to one node), a live guard is waited for and a dead
migrator's expired guard taken over."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

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

# Galera replicates InnoDB rows only, and needs a primary key on each.
KEYLESS_Q = ("SELECT t.table_name, t.engine FROM information_schema.tables t "
             "WHERE t.table_schema = '%s' AND t.table_type = 'BASE TABLE' "
             "AND (t.engine <> 'InnoDB' OR NOT EXISTS (SELECT 1 FROM "
             "information_schema.table_constraints c WHERE c.table_schema = "
             "t.table_schema AND c.table_name = t.table_name AND "
             "c.constraint_type = 'PRIMARY KEY')) ORDER BY 1")
db_name = sql('SELECT DATABASE()')[0][0]
ntables = len(sql("SELECT table_name FROM information_schema.tables WHERE "
                  "table_schema = '%s'" % db_name))
check('every table has a primary key and is InnoDB (%d tables)' % ntables,
      ntables > 10 and sql(KEYLESS_Q % db_name) == [],
      sql(KEYLESS_Q % db_name))
check('the guard table is there and free after migrating',
      sql('SELECT COUNT(*) FROM schema_lock') == [['0']])
check('no GET_LOCK or LOCK TABLES in the migrations', not [
    p for p in present if re.search(r'GET_LOCK|LOCK\s+TABLES',
                                    open(os.path.join(top, p)).read(), re.I)])


# --- a version-1 database upgrades with its data intact --------------------
# A database of its own in the stack's server, migrated to the last
# version-1 schema (005), given workflows, executions and workers as
# version 1 wrote them, then migrated to now: 007 must keep every row and
# give each workflow its version 1 (SPEC section 13), executions of before
# none; 006 keeps every worker accepted with its groups (section 12).
V1_LAST = 5
V1DB = 'pulse_v1mig'
env_file = os.environ.get('PULSE_ENV_FILE', '')
bindir = os.environ.get('PULSE_BIN', '')
require('PULSE_ENV_FILE and PULSE_BIN are set', env_file and bindir)


def migrate(sqldir, envpath):
    p = subprocess.run([os.path.join(bindir, 'pulse-api'), '-e', envpath,
                        '--migrate', sqldir], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def v1sql(stmt):
    return sql('USE %s; %s' % (V1DB, stmt))


tmp = tempfile.mkdtemp()
try:
    with open(env_file) as f:
        env = re.sub(r'(?m)^DB_NAME=.*$', 'DB_NAME=' + V1DB, f.read())
    envpath = os.path.join(tmp, 'v1.env')
    with open(envpath, 'w') as f:
        f.write(env)
    v1dir = os.path.join(tmp, 'sql')
    os.mkdir(v1dir)
    for p in sorted(glob.glob(os.path.join(top, 'sql', '*.sql'))):
        if int(os.path.basename(p)[:3]) <= V1_LAST:
            shutil.copy(p, v1dir)
    sql('DROP DATABASE IF EXISTS %s' % V1DB)
    sql('CREATE DATABASE %s' % V1DB)
    for host in ('localhost', '127.0.0.1'):
        sql("GRANT ALL PRIVILEGES ON %s.* TO 'pulse'@'%s'" % (V1DB, host))
    rc, out = migrate(v1dir, envpath)
    require('a fresh database migrates to version 1 (%03d)' % V1_LAST,
            rc == 0, out)
    # Version 1's migrator guarded with GET_LOCK: no schema_lock table.
    v1sql('DROP TABLE schema_lock')
    defs = {
        'v1-wf-a': '{"steps": [{"name": "a", "type": "wait", "duration": 0}]}',
        'v1-wf-b': '{"steps": [{"name": "b", "type": "prompt", "message": '
                   '"ok?", "options": ["Yes", "No"]}]}',
    }
    ids = {}
    for name, d in sorted(defs.items()):
        ids[name] = str(uuid.uuid4())
        v1sql("INSERT INTO workflows (id, name, description, definition, "
              "created_by) VALUES ('%s', '%s', 'from v1', '%s', 'alice')"
              % (ids[name], name, d))
    execs = [str(uuid.uuid4()) for _ in range(3)]
    for i, eid in enumerate(execs):
        v1sql("INSERT INTO executions (id, workflow_id, kind, workflow_name, "
              "definition, status, started_by, started_at, completed_at) "
              "SELECT '%s', id, 'workflow', name, definition, 'completed', "
              "'bob', NOW(3), NOW(3) FROM workflows WHERE name = 'v1-wf-a'"
              % eid)
    # A step and a dispatch of each, as version 1 wrote them: 010 must
    # give them the defaults that say what a version-1 row always meant.
    for i, eid in enumerate(execs):
        v1sql("INSERT INTO execution_steps (execution_id, step_index, name, "
              "type, status) VALUES ('%s', 0, 'a', 'execute', 'completed')"
              % eid)
        v1sql("INSERT INTO dispatches (id, execution_id, step_index, "
              "worker_id, worker_name, command, timeout_ms, status, "
              "exit_code) VALUES ('%s', '%s', 0, '%s', 'v1-worker', "
              "'echo %d', 60000, 'completed', 0)"
              % (str(uuid.uuid4()), eid, str(uuid.uuid4()), i))
    # Version-1 workers with their groups (WORKER_GROUPS): 006 keeps them
    # accepted, their groups now the granted ones (SPEC section 12).
    wk = [str(uuid.uuid4()) for _ in range(2)]
    for i, w in enumerate(wk):
        v1sql("INSERT INTO workers (id, name, status, metadata) VALUES "
              "('%s', 'v1-worker-%d', 'offline', '{}')" % (w, i))
        v1sql("INSERT INTO worker_groups (worker_id, group_name) VALUES "
              "('%s', 'web'), ('%s', 'g%d')" % (w, w, i))
    before_wf = v1sql('SELECT id, name, description, definition, created_by '
                      'FROM workflows ORDER BY id')
    before_ex = v1sql('SELECT id, workflow_id, status, started_by, '
                      'definition FROM executions ORDER BY id')
    before_st = v1sql('SELECT * FROM execution_steps ORDER BY execution_id')
    before_di = v1sql('SELECT * FROM dispatches ORDER BY id')
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    check('the version-1 database migrates to now', rc == 0 and
          'migration 007_audit.sql applied' in out, out)
    check('... creating its guard table, every table keyed and InnoDB',
          v1sql('SELECT COUNT(*) FROM schema_lock') == [['0']] and
          sql(KEYLESS_Q % V1DB) == [], sql(KEYLESS_Q % V1DB))
    check('its workflows are intact', v1sql(
        'SELECT id, name, description, definition, created_by FROM '
        'workflows ORDER BY id') == before_wf)
    check('its executions are intact', v1sql(
        'SELECT id, workflow_id, status, started_by, definition FROM '
        'executions ORDER BY id') == before_ex)
    # 010 (SPEC section 14) adds columns only: the old rows keep every
    # value they had, the new columns hold the version-1 meaning.
    n = len(before_st[0])
    check('its steps and dispatches are intact (010 only adds columns)',
          [r[:n] for r in v1sql('SELECT * FROM execution_steps ORDER BY '
                                'execution_id')] == before_st and
          [r[:len(before_di[0])] for r in v1sql(
              'SELECT * FROM dispatches ORDER BY id')] == before_di)
    check('old executions: no params, no parent, depth 0, phase main, '
          'no failed steps, no failure', sorted(v1sql(
              "SELECT id, params IS NULL, parent_execution_id IS NULL, "
              "parent_step IS NULL, depth, phase, failed_steps, "
              "failure IS NULL FROM executions")) ==
          sorted([[e, '1', '1', '1', '0', 'main', '0', '1'] for e in execs]))
    check('old steps: top level, phase main, no targets, no batch, no '
          'failures, no child', sorted(v1sql(
              "SELECT execution_id, parent_index IS NULL, phase, "
              "targets IS NULL, batch_index IS NULL, batch_count IS NULL, "
              "failures, child_execution_id IS NULL FROM execution_steps")) ==
          sorted([[e, '1', 'main', '1', '1', '1', '0', '1'] for e in execs]))
    check('old dispatches: not_before, batch and env NULL', v1sql(
        "SELECT COUNT(*), SUM(not_before IS NULL), SUM(batch IS NULL), "
        "SUM(env IS NULL) FROM dispatches") == [['3', '3', '3', '3']])
    check('010 adds its two indexes', sorted(v1sql(
        "SELECT DISTINCT table_name, index_name FROM information_schema."
        "statistics WHERE table_schema = '%s' AND index_name IN "
        "('idx_executions_parent', 'idx_dispatches_due')" % V1DB)) ==
        [['dispatches', 'idx_dispatches_due'],
         ['executions', 'idx_executions_parent']])
    check('a new row gets the same defaults', v1sql(
        "INSERT INTO executions (id, kind, status, started_by) VALUES "
        "('%s', 'command', 'running', 'carol'); SELECT depth, phase, "
        "failed_steps FROM executions WHERE started_by = 'carol'; DELETE "
        "FROM executions WHERE started_by = 'carol'" % uuid.uuid4())
        == [['0', 'main', '0']])
    # 011 (SPEC section 15) adds NULL columns and the approvals table:
    # the old executions need no approval and have none.
    check('old executions: no plan, no hash, no approval, no deadline',
          sorted(v1sql(
              "SELECT id, plan IS NULL, plan_hash IS NULL, approval IS NULL, "
              "approval_expires_at IS NULL, status FROM executions")) ==
          sorted([[e] + ['1'] * 4 + [s] for e, s in v1sql(
              "SELECT id, status FROM executions")]) and
          len(v1sql("SELECT id FROM executions")) == len(execs))
    check('011 adds the approvals table, empty, and its index',
          v1sql('SELECT COUNT(*) FROM approvals') == [['0']] and v1sql(
              "SELECT DISTINCT index_name FROM information_schema."
              "statistics WHERE table_schema = '%s' AND index_name = "
              "'idx_executions_approval'" % V1DB) ==
          [['idx_executions_approval']])
    schema_q = ("SELECT table_name, column_name, column_type, is_nullable, "
                "column_default FROM information_schema.columns WHERE "
                "table_schema = '%s' ORDER BY table_name, column_name" % V1DB)
    index_q = ("SELECT table_name, index_name, seq_in_index, column_name "
               "FROM information_schema.statistics WHERE table_schema = '%s' "
               "ORDER BY table_name, index_name, seq_in_index" % V1DB)
    schema1, index1 = v1sql(schema_q), v1sql(index_q)
    data1 = [v1sql('SELECT * FROM %s ORDER BY 1' % t) for t in
             ('executions', 'execution_steps', 'dispatches')]
    vers = v1sql('SELECT w.id, v.version, v.name, v.created_by, '
                 'v.definition = w.definition, w.version FROM workflows w '
                 'JOIN workflow_versions v ON v.workflow_id = w.id '
                 'ORDER BY w.id')
    check('each workflow has version 1 = its definition, by its author',
          sorted(vers) == sorted([[ids[n], '1', n, 'alice', '1', '1']
                                  for n in defs]), vers)
    check('executions of before have no version (NULL)', v1sql(
        'SELECT COUNT(*) FROM executions WHERE workflow_version IS NULL')
        == [[str(len(execs))]])
    check('version-1 workers stay accepted, without keys (the shared key '
          'still serves them)', sorted(v1sql(
              "SELECT id, state, requested_groups IS NULL, replaces IS NULL, "
              "(SELECT COUNT(*) FROM worker_keys k WHERE k.worker_id = w.id) "
              "FROM workers w WHERE name LIKE 'v1-worker-%'")) ==
          sorted([[w, 'accepted', '1', '1', '0'] for w in wk]))
    check('their groups are kept as granted groups', sorted(v1sql(
        "SELECT worker_id, group_name FROM worker_groups WHERE worker_id "
        "IN ('%s', '%s')" % tuple(wk))) == sorted(
        [[wk[0], 'web'], [wk[0], 'g0'], [wk[1], 'web'], [wk[1], 'g1']]))
    check('the trust tables exist, empty', v1sql(
        'SELECT (SELECT COUNT(*) FROM worker_keys) + (SELECT COUNT(*) FROM '
        'enrollment_tokens) + (SELECT COUNT(*) FROM worker_trust_events)') ==
        [['0']])
    check('the audit chain starts empty at its head', v1sql(
        'SELECT last_id, last_hash = REPEAT(\'0\', 64) FROM audit_head') ==
        [['0', '1']])
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    check('migrating again changes nothing', rc == 0 and '(0 applied' in out
          and len(v1sql('SELECT * FROM workflow_versions')) == len(defs), out)
    check('migrating again leaves the columns and indexes as they were',
          v1sql(schema_q) == schema1 and v1sql(index_q) == index1)
    check('migrating again leaves the rows as they were', [
        v1sql('SELECT * FROM %s ORDER BY 1' % t) for t in
        ('executions', 'execution_steps', 'dispatches')] == data1)
    # Lose 010's record, as an interrupted run would: it runs again in
    # full over its own columns and changes nothing (IF NOT EXISTS).
    v1sql("DELETE FROM schema_migrations WHERE name LIKE '010%'")
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    check('010 applied twice changes nothing', rc == 0 and
          'migration 010_language.sql applied' in out and
          v1sql(schema_q) == schema1 and v1sql(index_q) == index1, out)
    v1sql("DELETE FROM schema_migrations WHERE name LIKE '011%'")
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    check('011 applied twice changes nothing', rc == 0 and
          'migration 011_approvals.sql applied' in out and
          v1sql(schema_q) == schema1 and v1sql(index_q) == index1, out)

    # --- two migrators at once, a live guard, a dead migrator's guard ----
    # A fresh database of its own: two migrators started together each
    # exit 0, and every file is applied by exactly one of them.
    sql('DROP DATABASE IF EXISTS %s' % V1DB)
    sql('CREATE DATABASE %s' % V1DB)
    procs = [subprocess.Popen([os.path.join(bindir, 'pulse-api'), '-e',
                               envpath, '--migrate', os.path.join(top, 'sql')],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    both = outs[0] + outs[1]
    files = sorted(os.path.basename(p) for p in present)
    counts = {f: both.count('migration %s applied' % f) for f in files}
    check('two migrators at once both succeed',
          [p.returncode for p in procs] == [0, 0], both)
    check('... and each file is applied by exactly one of them',
          set(counts.values()) == {1}, counts)
    check('... the other one waited and found nothing to do',
          sorted(re.findall(r'\((\d+) applied', both)) ==
          sorted(['0', str(len(files))]), both)
    check('... every file recorded once', v1sql(
        'SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations')
        == [[str(len(files)), str(len(files))]])
    check('... and the guard is free again',
          v1sql('SELECT COUNT(*) FROM schema_lock') == [['0']])

    # A migrator that died left its guard: once expired it is taken over.
    v1sql("INSERT INTO schema_lock (id, owner, expires_at) VALUES "
          "(1, 'dead:1:1', NOW() - INTERVAL 1 SECOND)")
    t0 = time.monotonic()
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    check('an expired guard (a dead migrator) is taken over at once',
          rc == 0 and '(0 applied' in out and time.monotonic() - t0 < 10 and
          'waiting' not in out, out)
    check('... and freed', v1sql('SELECT COUNT(*) FROM schema_lock') ==
          [['0']])
    # A live guard is waited for until it is released or expires.
    v1sql("INSERT INTO schema_lock (id, owner, expires_at) VALUES "
          "(1, 'alive:1:1', NOW() + INTERVAL 3 SECOND)")
    t0 = time.monotonic()
    rc, out = migrate(os.path.join(top, 'sql'), envpath)
    took = time.monotonic() - t0
    check('a live guard is waited for, then the migration goes on',
          rc == 0 and 'another migration is running: waiting' in out and
          '(0 applied' in out and took >= 1.5, (took, out))
finally:
    sql('DROP DATABASE IF EXISTS %s' % V1DB)
    shutil.rmtree(tmp, ignore_errors=True)
done()
