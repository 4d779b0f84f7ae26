"""Simulated workers for tests (bench/loadws.c): build loadws as bench/run
does and enroll N workers named PREFIX-00001.. in one group, each with its
own key (benchlib.enroll: fresh loopback addresses past nginx's enrollment
rate). As a script (for the e2e tests):

    python3 fleet.py DIR PREFIX N GROUP
        prints {"loadws": path, "keys": path, "ids": [worker ids]}
"""

import json
import os
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, '..', '..')
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'bench'))
from pulse_test import call, URL  # noqa: E402
import benchlib  # noqa: E402


def build_loadws(tmp):
    """bench/loadws.c, built as bench/run builds it, into tmp."""
    out = os.path.join(tmp, 'loadws')
    flags = subprocess.run(['pkg-config', '--cflags', '--libs',
                            'libwebsockets', 'json-c'], capture_output=True,
                           text=True, check=True).stdout.split()
    subprocess.run(['cc', '-O2', '-Wall', '-Wextra', '-o', out,
                    os.path.join(REPO, 'bench', 'loadws.c')] + flags,
                   check=True)
    return out


class _Http:
    def post(self, path, body):
        return call('POST', path, body=body)


class _Stack:
    """What benchlib.enroll needs of a stack."""
    http = _Http()
    port = urllib.parse.urlsplit(URL).port

    def __init__(self, tmp):
        self.dir = tmp


def enroll(tmp, prefix, n, group):
    """The "id key name" file loadws -K reads."""
    keys, _ = benchlib.enroll(_Stack(tmp), prefix, n, groups=(group,))
    return keys


def port():
    return _Stack.port


if __name__ == '__main__':
    tmp, prefix, n, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        sys.argv[4]
    loadws = build_loadws(tmp)
    keys = enroll(tmp, prefix, n, group)
    ids = [line.split()[0] for line in open(keys) if line.strip()]
    print(json.dumps({'loadws': loadws, 'keys': keys, 'ids': ids}))
