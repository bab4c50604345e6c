import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../lib/tap-contracts.ts';
import { PyFloat } from '../messaging/index.ts';
import { isSecretKey, redact, redactObject, redactUrlPasswords } from './redact.ts';

describe('isSecretKey', () => {
  it.each(['auth_token', 'service_token', 'X-Auth-Token', 'password', 'admin_password', 'auth_password', 'secret', 'client_secret', 'credential', 'credentials', 'private_key', 'api_key', 'access_key', 'Authorization', 'cookie', 'passphrase', 'db_pwd'])(
    '%s is a secret',
    (k) => expect(isSecretKey(k)).toBe(true),
  );
  it.each(['user_id', 'project_id', 'request_id', 'is_admin', 'roles', 'instance_uuid', 'key_name', 'host', 'user_identity'])('%s is not', (k) =>
    expect(isSecretKey(k)).toBe(false),
  );
});

describe('redact', () => {
  it('replaces secrets at any depth, in objects, arrays and Maps, without touching the input', () => {
    const input = {
      args: { instance: { admin_password: 'hunter2', name: 'vm1' }, creds: [{ secret: 's', id: 1 }] },
      nested: new Map<string, unknown>([['auth_token', 'gAAAA'], ['ok', 1]]),
      token: null,
      password: '',
    };
    const out = redact(input) as Record<string, any>;
    expect(out.args.instance).toEqual({ admin_password: REDACTED, name: 'vm1' });
    expect(out.args.creds).toEqual([{ secret: REDACTED, id: 1 }]);
    expect(out.nested).toEqual({ auth_token: REDACTED, ok: 1 });
    // "no token" stays visible: it tells the operator none was sent
    expect(out.token).toBeNull();
    expect(out.password).toBe('');
    expect(input.args.instance.admin_password).toBe('hunter2');
    expect(JSON.stringify(out)).not.toContain('hunter2');
  });

  it('returns untouched structures as they are (copy on write) and copies only what changes', () => {
    const clean = { a: [1, 'x', { b: null }], c: { d: true } };
    expect(redact(clean)).toBe(clean);
    const dirty = { keep: { same: 1 }, list: [1, { token: 't' }], after: 'x' };
    const out = redact(dirty) as typeof dirty;
    expect(out).not.toBe(dirty);
    expect(out.keep).toBe(dirty.keep);
    expect(out).toEqual({ keep: { same: 1 }, list: [1, { token: REDACTED }], after: 'x' });
    expect(Object.keys(out)).toEqual(['keep', 'list', 'after']);
    expect(dirty.list[1]).toEqual({ token: 't' });
  });

  it('keeps a __proto__ key as data', () => {
    const parsed = JSON.parse('{"__proto__": {"password": "p"}, "n": NaN}'.replace('NaN', '1')) as Record<string, unknown>;
    parsed.password = 'x';
    const out = redact(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"***"},"n":1,"password":"***"}');
  });

  it('redacts a secret whose value is a structure entirely', () => {
    expect(redactObject({ credentials: { user: 'a', key: 'b' } })).toEqual({ credentials: REDACTED });
  });

  it('scrubs passwords out of URL-looking strings, including multi-host transport URLs', () => {
    expect(redactUrlPasswords('rabbit://nova:s3cret@ctl1:5672,nova:s3cret2@ctl2:5672/')).toBe('rabbit://nova:***@ctl1:5672,nova:***@ctl2:5672/');
    expect(redactUrlPasswords('connect mysql+pymysql://root:pa55@db/nova now')).toBe('connect mysql+pymysql://root:***@db/nova now');
    expect(redactUrlPasswords('http://host/path?a=b')).toBe('http://host/path?a=b');
    expect(redactUrlPasswords('user@example.org')).toBe('user@example.org');
    expect(redact({ transport_url: 'rabbit://u:p@h/' })).toEqual({ transport_url: 'rabbit://u:***@h/' });
  });

  it('makes values JSON-safe: bigint, NaN, Infinity, undefined, PyFloat, typed arrays', () => {
    const out = redact({ big: 2n ** 64n, nan: NaN, inf: Infinity, neg: -Infinity, u: undefined, f: new PyFloat(2), b: Buffer.from('hi') });
    expect(out).toEqual({ big: '18446744073709551616', nan: 'NaN', inf: 'Infinity', neg: '-Infinity', u: null, f: 2, b: 'aGk=' });
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('stops at a depth limit instead of overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const out = redact(deep);
    expect(JSON.stringify(out)).toContain('[nested too deep]');
  });
});
