#!/usr/bin/env python3
"""Signed-in users are recorded from the SSO answer in the users table
(SPEC sections 3 and 9): username, display name, email, groups,
last_login."""

import json

from pulse_test import call, check, check_status, done, have_ctl, require, sql

require('PULSE_CTL is set', have_ctl())

USERS = {
    'admin': ('Admin User', 'admin@pulse.local', 'admin'),
    'employee': ('Employee User', 'employee@pulse.local', 'employee'),
}


def group_list(text):
    """users.groups as a list: a JSON array, or the SSO's comma list."""
    if text.startswith('['):
        try:
            return json.loads(text)
        except ValueError:
            return None
    return [g.strip() for g in text.split(',') if g.strip()]


for user, (name, email, groups) in USERS.items():
    check_status('GET /api/user as %s' % user,
                 call('GET', '/api/user', user=user), 200)
    check_status('GET /api/workflows as %s' % user,
                 call('GET', '/api/workflows', user=user), 200)
    rows = sql("SELECT username, display_name, email, `groups` FROM users "
               "WHERE username = '%s'" % user)
    check('%s: one users row with the SSO values' % user,
          len(rows) == 1 and rows[0][:3] == [user, name, email], rows)
    check('%s: groups recorded as %r' % (user, [groups]),
          len(rows) == 1 and len(rows[0]) == 4 and
          group_list(rows[0][3]) == [groups], rows)
    rows = sql("SELECT last_login IS NOT NULL, "
               "ABS(TIMESTAMPDIFF(SECOND, last_login, NOW())) < 900, "
               "id FROM users WHERE username = '%s'" % user)
    check('%s: last_login is set, and recent' % user,
          len(rows) == 1 and rows[0][:2] == ['1', '1'], rows)
    check('%s: the row id is a UUID' % user,
          len(rows) == 1 and len(rows[0]) == 3 and len(rows[0][2]) == 36,
          rows)

rows = sql("SELECT COUNT(*) FROM users WHERE username IN "
           "('admin', 'employee')")
check('one row per user, however many requests', rows == [['2']], rows)

# Nobody who failed to sign in is recorded.
call('GET', '/api/user', user=('ghost-user', 'x'))
rows = sql("SELECT COUNT(*) FROM users WHERE username = 'ghost-user'")
check('a failed sign-in leaves no users row', rows == [['0']], rows)

done()
