#!/usr/bin/env python3
"""The layers of DESIGN.md section 9, checked on the sources (TAP).

1. Nothing below the engine includes the engine's headers: a common/ file
   outside the engine layer (engine.c, engine-*.c, step-*.c and their
   headers) that includes engine.h or engine-int.h fails, naming the file.
2. No include cycles among the modules of common/ and of pushd/: a module
   is a file name without .c/.h; X.c or X.h including "Y.h" (Y in the same
   directory) is an edge X -> Y. A cycle fails, naming its modules.

Usage: layering.py [top_srcdir]; top_srcdir defaults to $top_srcdir or
this file's ../..; the test harness runs it from the unit stage.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ENGINE_HEADERS = ('engine.h', 'engine-int.h')


def in_engine_layer(name):
    base = name.rsplit('.', 1)[0]
    return (base == 'engine' or base.startswith('engine-') or
            base.startswith('step-'))


def includes(path):
    # Sources are small (STYLE.md); read at most 1 MiB of any one file.
    with open(path, encoding='utf-8', errors='replace') as f:
        return INCLUDE.findall(f.read(1 << 20))


def sources(directory):
    return sorted(n for n in os.listdir(directory)
                  if n.endswith('.c') or n.endswith('.h'))


def engine_rule(directory):
    bad = []
    for name in sources(directory):
        if in_engine_layer(name):
            continue
        for inc in includes(os.path.join(directory, name)):
            if inc in ENGINE_HEADERS:
                bad.append('%s includes %s' % (name, inc))
    return bad


def graph(directory):
    names = sources(directory)
    modules = {n.rsplit('.', 1)[0] for n in names}
    edges = {m: set() for m in modules}
    for name in names:
        src = name.rsplit('.', 1)[0]
        for inc in includes(os.path.join(directory, name)):
            dst = inc.rsplit('.', 1)[0] if inc.endswith('.h') else None
            if dst is None or '/' in inc or dst == src or dst not in modules:
                continue
            edges[src].add(dst)
    return edges


def find_cycle(edges):
    """A cycle as a list of modules (first repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {m: WHITE for m in edges}
    stack = []

    def visit(m):
        colour[m] = GREY
        stack.append(m)
        for n in sorted(edges[m]):
            if colour[n] == GREY:
                return stack[stack.index(n):] + [n]
            if colour[n] == WHITE:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        colour[m] = BLACK
        return None

    for m in sorted(edges):
        if colour[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return None


def main():
    top = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'top_srcdir') or os.path.join(os.path.dirname(
            os.path.abspath(__file__)), '..', '..'))
    checks = []
    common = os.path.join(top, 'common')
    bad = engine_rule(common)
    checks.append(('nothing below the engine includes engine.h or '
                   'engine-int.h', bad))
    for d in ('common', 'pushd'):
        cycle = find_cycle(graph(os.path.join(top, d)))
        checks.append(('%s/ has no include cycle' % d,
                       [' -> '.join(cycle)] if cycle else []))
    print('1..%d' % len(checks))
    failed = 0
    for i, (what, problems) in enumerate(checks, 1):
        if problems:
            failed += 1
            print('not ok %d - %s' % (i, what))
            for p in problems:
                print('# %s' % p)
        else:
            print('ok %d - %s' % (i, what))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
