import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MemoryBroker, RpcClient, RpcServer, Transport } from '../../server/messaging/index.ts';
import { waitFor } from '../../server/tap/test-support.ts';
import { runRecordCommand } from './record.ts';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

describe('osloscope record (runRecordCommand)', () => {
  it('exits 2 on bad usage', async () => {
    const err = sink();
    expect(await runRecordCommand(['--duration', 'x'], { stdout: sink().stream, stderr: err.stream, env: {} })).toBe(2);
    expect(err.text()).toMatch(/^osloscope record: --duration/);
  });

  it('records every transport of TRANSPORT_URLS, each row under its name', async () => {
    // memory:// transports in one process share a broker per vhost: two vhosts of our own, one service each
    const names = ['cella', 'cellb'] as const;
    const urls = names.map((n) => `memory:///rec-${n}-${process.pid}`);
    const services = await Promise.all(
      names.map(async (n, i) => {
        const broker = MemoryBroker.shared(`rec-${n}-${process.pid}`);
        const serverT = new Transport(urls[i], { programName: `svc-${n}`, memoryBroker: broker });
        const clientT = new Transport(urls[i], { programName: `api-${n}`, memoryBroker: broker });
        const server = new RpcServer(serverT, { topic: 'compute', server: `host-${n}` }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }]);
        await server.start();
        return { n, serverT, clientT, server, client: new RpcClient(clientT, { topic: 'compute' }) };
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'osloscope-record-'));
    const file = join(dir, 'history.sqlite');
    const abort = new AbortController();
    const err = sink();
    const done = runRecordCommand([], { stdout: sink().stream, stderr: err.stream, env: { TRANSPORT_URLS: names.map((n, i) => `${n}=${urls[i]}`).join(','), HISTORY_DATABASE: file, LOG_LEVEL: 'error' } }, abort.signal);
    try {
      await waitFor(() => err.text().includes('record: tap'), 'the first status line');
      expect(err.text()).toMatch(/record: tap cella running \(bindings\), cellb running \(bindings\)/);
      for (const s of services) await s.client.cast({}, 'echo', { value: `to-${s.n}` });
    } finally {
      // give the taps a moment to see the casts, then stop (the writer writes what is queued)
      await new Promise((r) => setTimeout(r, 500));
      abort.abort();
    }
    expect(await done).toBe(0);
    for (const s of services) {
      await s.server.stop();
      await Promise.all([s.serverT.close(), s.clientT.close()]);
    }
    const db = new SQLite(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare(`SELECT transport, body FROM messages WHERE method = 'echo' AND kind = 'cast'`).all() as { transport: string; body: string }[];
      const seen = rows.map((r) => [r.transport, (JSON.parse(r.body) as { args: { value: string } }).args.value]).sort();
      expect(seen).toEqual([
        ['cella', 'to-cella'],
        ['cellb', 'to-cellb'],
      ]);
    } finally {
      db.close();
    }
  }, 30_000);
});
