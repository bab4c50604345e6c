/**
 * `osloscope serve` prints each invocation on stdout: what callers send is
 * shown, but never their secrets (tokens in the context, passwords in args).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RpcClient, Transport } from '../../server/messaging/index.ts';
import { runServeCommand } from './serve.ts';

describe('osloscope serve output', () => {
  it('prints args and context with every secret masked', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.resume();
    const abort = new AbortController();
    const topic = `serve-redact-${process.pid}`;
    const done = runServeCommand(['--topic', topic, '--server', 's1', '--url', 'memory:///'], { stdout, stderr, env: {} }, abort.signal);
    const ready = Date.now() + 5000;
    while (!out.includes('"ready"') && Date.now() < ready) await new Promise((r) => setTimeout(r, 20));
    expect(out).toContain('"ready"');
    const t = new Transport('memory:///', { conf: { control_exchange: 'openstack' } });
    try {
      const client = new RpcClient(t, { topic, server: 's1' }, { timeout: 5 });
      const ctxt = { user: 'u1', auth_token: 'AT-secret-1', service_token: 'ST-secret-2', request_id: 'req-1' };
      const args = { value: { new_pass: 'NP-secret-3', adminPass: 'AP-secret-4', note: 'retry with password=PW-secret-5', name: 'vm1' } };
      await client.call(ctxt, 'echo', args);
    } finally {
      await t.close();
      abort.abort();
      expect(await done).toBe(0);
    }
    const invoked = out.split('\n').find((l) => l.includes('"invoked"'));
    expect(invoked).toBeDefined();
    expect(invoked).not.toMatch(/secret-\d/);
    expect(invoked).toContain('vm1');
    expect(invoked).toContain('req-1');
    expect(invoked).toContain('"service_token": "***"');
  });
});
