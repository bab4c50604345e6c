/**
 * inspectorFor: a transport's broker decides its inspector, so the tap never asks which driver it runs on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker, Transport, type Logger } from '../messaging/index.ts';
import { inspectorFor, ManagementInspector, MemoryInspector, PassiveInspector, vhostOf } from './inspector.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

/** A management API on 127.0.0.1:15672 for vhost `nova` whose first `stalls` answers time out (a loaded broker). */
function slowManagement(stalls: number) {
  const asked: string[] = [];
  vi.stubGlobal('fetch', async (url: string | URL) => {
    const path = new URL(String(url)).pathname;
    asked.push(path);
    if (stalls-- > 0) throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const json = path === '/api/vhosts' ? [{ name: 'nova', tracing: true }] : { node: 'rabbit@h', listeners: [{ protocol: 'amqp', port: 5672 }] };
    return new Response(JSON.stringify(json), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  return asked;
}

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return { warnings, debug: noop, info: noop, warn: (_o: object, msg: string) => void warnings.push(msg), error: noop };
}

const passive = { checkQueue: async () => null, knownQueues: () => ['compute'] };

describe('inspectorFor', () => {
  it('answers for a memory transport with its broker, whatever the management URL', async () => {
    const broker = new MemoryBroker({ vhost: '/demo' });
    const t = new Transport('memory:///demo', { memoryBroker: broker });
    const i = await inspectorFor(t, { ...passive, managementUrl: 'http://127.0.0.1:1', log: recordingLog() });
    expect(i).toBeInstanceOf(MemoryInspector);
    expect(i.vhost).toBe('/demo');
    expect(vhostOf(t)).toBe('/demo');
    expect(i.droppedFrom?.('nothing')).toBe(0);
  });

  it('falls back to passive declares on the given link when the management API is off', async () => {
    const t = new Transport('rabbit://u:p@127.0.0.1:5672/nova');
    const checked: string[] = [];
    const i = await inspectorFor(t, {
      managementUrl: null,
      log: recordingLog(),
      checkQueue: async (q) => (checked.push(q), { messageCount: 3, consumerCount: 1 }),
      knownQueues: () => ['compute'],
    });
    expect(i).toBeInstanceOf(PassiveInspector);
    expect(i.vhost).toBe('nova');
    expect(vhostOf(t)).toBe('nova');
    expect(await i.queues()).toEqual([{ name: 'compute', messages: 3, consumers: 1, exclusive: false }]);
    expect(checked).toEqual(['compute']);
    expect(i.droppedFrom).toBeUndefined();
  });

  it('asks a management API that timed out again before falling back to passive declares (explicit URL and guess)', async () => {
    const t = new Transport('rabbit://u:p@127.0.0.1:5672/nova');
    const asked = slowManagement(2);
    const i = await inspectorFor(t, { ...passive, managementUrl: 'http://127.0.0.1:15672', log: recordingLog() });
    expect(i).toBeInstanceOf(ManagementInspector);
    expect(asked.filter((p) => p === '/api/vhosts')).toHaveLength(3);
    slowManagement(1);
    expect(await inspectorFor(t, { ...passive, managementUrl: undefined, log: recordingLog() })).toBeInstanceOf(ManagementInspector);
    // one that never answers: a bounded number of tries, then passive declares
    const never = slowManagement(1000);
    expect(await inspectorFor(t, { ...passive, managementUrl: 'http://127.0.0.1:15672', log: recordingLog() })).toBeInstanceOf(PassiveInspector);
    expect(never).toHaveLength(3);
  });

  it('says so and falls back to passive declares when the explicit management URL does not answer', async () => {
    const t = new Transport('rabbit://u:p@127.0.0.1:5672/');
    const log = recordingLog();
    const i = await inspectorFor(t, { ...passive, managementUrl: 'http://127.0.0.1:1', log });
    expect(i.source).toBe('passive');
    expect(log.warnings).toEqual(['management API unusable; falling back to passive declares']);
  });
});
