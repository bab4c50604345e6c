import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../lib/tap-contracts.ts';
import { PyFloat } from '../messaging/index.ts';
import { isSecretKey, LOG_REDACTION, maskPassword, maybeSecret, MAYBE_SECRET_FRAGMENTS, OSLO_SANITIZE_KEYS, redact, redactObject, redactRawBody, redactText, redactUrlPasswords } from './redact.ts';

describe('isSecretKey', () => {
  it.each([
    'auth_token', 'service_token', 'X-Auth-Token', 'password', 'admin_password', 'auth_password', 'secret', 'client_secret', 'credential',
    'credentials', 'private_key', 'api_key', 'access_key', 'Authorization', 'cookie', 'passphrase', 'db_pwd',
    // nova rebuild_instance / set_admin_password, the API's adminPass, cinder/nova volume encryption, keypairs
    'new_pass', 'adminPass', 'admin_pass', 'ssh_key', 'encryption_key_id', 'db_pass', 'sys_pswd', 'configdrive', 'fernetKey', 'CephMonKey',
    // every oslo _SANITIZE_KEYS entry, as a substring of a longer key like mask_dict_password's `in k.lower()`
    ...OSLO_SANITIZE_KEYS.map((k) => `x_${k.toUpperCase()}_1`),
  ])(
    '%s is a secret',
    (k) => expect(isSecretKey(k)).toBe(true),
  );
  it.each(['user_id', 'project_id', 'request_id', 'is_admin', 'roles', 'instance_uuid', 'key_name', 'host', 'user_identity', 'pci_passthrough', 'bypass', 'passed'])('%s is not', (k) =>
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

describe('redactText', () => {
  it.each([
    ['nova: Failed to set admin password on vm1 because password=Hunter2-x', 'Hunter2-x'],
    ["rebuild_instance kwargs {'new_pass': 'np-9', 'image_ref': 'abc'}", 'np-9'],
    ['{"server": {"adminPass": "ap-1"}}', 'ap-1'],
    ["{'admin_pass': u'ap-2'}", 'ap-2'],
    ['keystoneauth1: GET /v3 Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig-3', 'sig-3'],
    ['Authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
    ["headers={'X-Auth-Token': 'gAAAAABtok-4', 'Accept': 'json'}", 'tok-4'],
    ['X-Service-Token: st-5 X-Other: ok', 'st-5'],
    ['ssh_key: ssh-ed25519 AAAAC3Nza-6 root@h', 'AAAAC3Nza-6'],
    ['encryption_key_id=ek-7 volume=v', 'ek-7'],
    ['nova-manage --db-password dbp-8 sync', 'dbp-8'],
    ['<adminPass>xp-9</adminPass>', 'xp-9'],
    ['connect to mysql+pymysql://nova:up-10@db/nova', 'up-10'],
    ['bare token gAAAAABnZXQtYS1mZXJuZXQtdG9rZW4tbG9uZy1lbm91Z2g in a line', 'gAAAAABnZXQtYS1mZXJuZXQtdG9rZW4tbG9uZy1lbm91Z2g'],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIpk-11\n-----END RSA PRIVATE KEY-----', 'MIIpk-11'],
    ['{"password": "cut-short-12', 'cut-short-12'],
    ['{"password": "it\'s-13"}', "s-13"],
    ['password: "with spaces 14"', 'with spaces 14'],
  ])('%s', (input, secret) => {
    const out = redactText(input);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
    expect(redactText(out)).toBe(out);
  });

  it('keeps what is not secret, including text that oslo\'s wildcard pattern would eat', () => {
    expect(redactText("{'new_pass': 'zz', 'ok': 1}")).toBe("{'new_pass': '***', 'ok': 1}");
    expect(maskPassword("{'new_pass': 'zz', 'ok': 1}")).toBe("{'new_pass': '***', ': 1}");
    for (const s of ['nova.exception.InstancePasswordSetFailed: Failed to set admin password on vm1', 'InvalidToken: expired', 'key_name=mykey host=h', 'compute.host1', 'Instance vm1 could not be found.', 'no password given', 'token: null']) expect(redactText(s)).toBe(s);
  });

  it('reaches every string a value holds', () => {
    const out = redact({ failure: { message: 'Unauthorized: password=p-1', tb: ['File x, line 1', "raise Exc(auth_token='t-2')"] } });
    expect(JSON.stringify(out)).not.toMatch(/p-1|t-2/);
  });
});

describe('maybeSecret (the trigram scan before redactText\'s rules)', () => {
  // what the scan must equal: the fragments, ASCII letters compared without case (a `/i` expression without
  // `u`); toLowerCase() would fold U+212A KELVIN SIGN to `k`, which the expression does not
  const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const reference = (s: string) => MAYBE_SECRET_FRAGMENTS.some((f) => asciiLower(s).includes(f));
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/-_. \u017f\u212a\u0130\u00e9\ud83d\ude00';
  const randomText = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join('');
  const randomCase = (s: string) => [...s].map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join('');

  it('finds every fragment, in any ASCII case, anywhere in a string', () => {
    for (const f of MAYBE_SECRET_FRAGMENTS) {
      for (let i = 0; i < 200; i++) {
        const s = randomText(Math.floor(rand() * 6)) + randomCase(f) + randomText(Math.floor(rand() * 6));
        expect(maybeSecret(s), s).toBe(true);
      }
    }
  });

  it('answers exactly as the expression over random text, non-ASCII look-alikes included', () => {
    let positives = 0;
    for (let i = 0; i < 100_000; i++) {
      const s = randomText(1 + Math.floor(rand() * 40));
      const want = reference(s);
      if (maybeSecret(s) !== want) expect(maybeSecret(s), JSON.stringify(s)).toBe(want);
      if (want) positives++;
    }
    // the random text reaches both answers (a scan that always said no, or always yes, fails above)
    expect(positives).toBeGreaterThan(0);
    for (const s of ['\u212aey', 'pa\u017fs', 'tok\u0130n', 'node-42.example.org', 'c16b87e4837cbacf908f4b7d45fa262d', 'req-76837768-15a1']) expect(maybeSecret(s), s).toBe(false);
    for (const s of ['x-AUTH-y', 'http://h', 'gAAAAAB0', 'eyJhbGc', 'db_pwd']) expect(maybeSecret(s), s).toBe(true);
  });
});

describe('redactRawBody', () => {
  const body = '{"_context_auth_token": "tok-1", "oslo.message": "{\\"password\\": \\"pw-2\\""';
  it('redacts UTF-8 text', () => {
    const v = redactRawBody(Buffer.from(body), 4096, false);
    expect(v.rawEncoding).toBe('utf8');
    expect(v.raw).not.toMatch(/tok-1|pw-2/);
  });
  it('redacts bytes that are not UTF-8 before base64, keeping every other byte', () => {
    const bytes = Buffer.concat([Buffer.from(body), Buffer.from([0xc3, 0x28, 0xff])]);
    const v = redactRawBody(bytes, 4096, false);
    expect(v.rawEncoding).toBe('base64');
    const shown = Buffer.from(v.raw ?? '', 'base64');
    expect(shown.toString('latin1')).not.toMatch(/tok-1|pw-2/);
    expect(shown.subarray(-3)).toEqual(Buffer.from([0xc3, 0x28, 0xff]));
  });
  it('never shows compressed bytes and says when it cut', () => {
    expect(redactRawBody(Buffer.alloc(5000), 4096, true)).toEqual({ raw: null, rawEncoding: null, rawTruncated: true });
  });
});

describe('LOG_REDACTION', () => {
  it('redacts a pino log line: message text, fields, nested values and errors', async () => {
    const { default: pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const log = pino(
      { level: 'debug', ...LOG_REDACTION },
      new Writable({
        write(c, _e, cb) {
          lines.push(String(c));
          cb();
        },
      }),
    );
    log.debug({ method: 'fail', err: 'Failed: new_pass=L-1', ctxt: { service_token: 'L-2' }, error: new Error('Authorization: Bearer L-3xyzzy') }, 'expected failure password=L-4');
    log.info('plain %s', 'text');
    const out = lines.join('');
    expect(out).not.toMatch(/L-\d/);
    expect(out).toContain('expected failure password=***');
    expect(out).toContain('plain text');
    expect(out).toContain('"method":"fail"');
  });
});
