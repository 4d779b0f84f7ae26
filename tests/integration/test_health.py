#!/usr/bin/env python3
"""GET /health: public, SPEC section 4 shape, served through nginx with the
security headers."""

import datetime

from pulse_test import call, check, check_status, done, is_iso8601

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")

r = call('GET', '/health', user=None)
check_status('GET /health without credentials', r, 200)
status, headers, data = r
check('/health answers JSON',
      'application/json' in headers.get('Content-Type', ''),
      headers.get('Content-Type'))
d = data if isinstance(data, dict) else {}
check('/health status is "ok"', d.get('status') == 'ok', data)
check('/health database is "connected"', d.get('database') == 'connected',
      data)
check('/health auth is "authelia-sso"', d.get('auth') == 'authelia-sso',
      data)
ts = d.get('timestamp')
check('/health timestamp is ISO-8601', is_iso8601(ts), ts)


def skew(ts):
    t = datetime.datetime.fromisoformat(ts.replace('Z', '+00:00'))
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((now - t).total_seconds())


check('/health timestamp is now (within 5 minutes, as UTC if no zone)',
      is_iso8601(ts) and skew(ts) < 300, ts)
check('/health has no other surprises (no secrets, no user)',
      not any(k in d for k in ('user', 'api_key', 'password', 'secret')),
      data)

# nginx's security headers, on the API as everywhere.
check('Content-Security-Policy is the strict policy',
      headers.get('Content-Security-Policy') == CSP,
      headers.get('Content-Security-Policy'))
check('X-Frame-Options: DENY', headers.get('X-Frame-Options') == 'DENY',
      headers.get('X-Frame-Options'))
check('X-Content-Type-Options: nosniff',
      headers.get('X-Content-Type-Options') == 'nosniff',
      headers.get('X-Content-Type-Options'))
check('Referrer-Policy: no-referrer',
      headers.get('Referrer-Policy') == 'no-referrer',
      headers.get('Referrer-Policy'))
check('no CORS header',
      headers.get('Access-Control-Allow-Origin') is None,
      headers.get('Access-Control-Allow-Origin'))
check('Server header does not give the nginx version',
      '/' not in headers.get('Server', ''), headers.get('Server'))
check('security headers appear once',
      len(headers.get_all('X-Frame-Options') or []) == 1,
      headers.get_all('X-Frame-Options'))

# Credentials change nothing; other methods are refused.
r = call('GET', '/health', user='admin')
check_status('GET /health with credentials', r, 200)
r = call('GET', '/health', user=('admin', 'wrong-password'))
check_status('GET /health with wrong credentials (no SSO on /health)', r,
             200)
r = call('POST', '/health', user=None, body={})
check_status('POST /health', r, 405)
check('POST /health error is JSON',
      isinstance(r[2], dict) and 'error' in r[2], r[2])

done()
