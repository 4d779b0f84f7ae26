#!/usr/bin/env python3
"""Output: over the cap it is truncated and the true size recorded; binary
and invalid UTF-8 output break nothing; stderr is kept apart from stdout."""

from live import by_worker, execute, run, start_worker, wait_execution
from pulse_test import call, check, ctl, done, require, unique

name = unique('out')
w = start_worker(name, '', WORKER_OUTPUT_CAP='4096')
require('worker with a 4 KiB output cap online', w is not None)

e = run([execute('big', 'head -c 100000 /dev/zero | tr "\\0" x; '
                 'echo err >&2', [name])])
e = wait_execution(e['id'])
d = by_worker(e, 0).get(name, {})
check('completed', e['status'] == 'completed', e)
check('stdout kept up to the cap', len(d.get('stdout', '')) == 4096,
      len(d.get('stdout', '')))
check('stdout marked truncated', d.get('stdout_truncated') is True, d)
check('true size recorded', d.get('stdout_bytes') == 100000, d)
check('stderr separate and whole', d.get('stderr') == 'err\n' and
      d.get('stderr_truncated') is False, d)

e = run([execute('binary', 'printf "ok\\377\\376\\000end"', [name])])
e = wait_execution(e['id'])
d = by_worker(e, 0).get(name, {})
check('binary output: completed', e['status'] == 'completed', e)
check('binary output: size is the byte count', d.get('stdout_bytes') == 8, d)
check('invalid bytes shown as U+FFFD, text around kept',
      d.get('stdout', '').startswith('ok\ufffd\ufffd') and
      d.get('stdout', '').endswith('end'), d.get('stdout'))
r = call('GET', '/api/executions/%s' % e['id'])
check('the execution still reads as JSON', r[0] == 200 and
      isinstance(r[2], dict), r[0])

e = run([execute('random', 'head -c 3000 /dev/urandom', [name])])
e = wait_execution(e['id'])
d = by_worker(e, 0).get(name, {})
check('random bytes: completed with all 3000 counted',
      e['status'] == 'completed' and d.get('stdout_bytes') == 3000, d)
ctl('worker-stop', name)
done()
