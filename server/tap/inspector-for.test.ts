/**
 * inspectorFor: a transport's broker decides its inspector, so the tap never asks which driver it runs on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker, Transport, type Logger } from '../messaging/index.ts';
import { inspectorFor, ManagementInspector, MemoryInspector, PassiveInspector, vhostOf, withPassiveCounts, type InspectedQueue } from './inspector.ts';

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

describe('withPassiveCounts: the counts the management API left out, asked of the broker', () => {
  const unreported = (name: string, over: Partial<InspectedQueue> = {}): InspectedQueue => ({ name, messages: null, consumers: null, exclusive: false, ...over });
  const kindOf = (name: string) => (name.startsWith('reply_') ? 'reply' : name.includes('_fanout') ? 'fanout' : name.includes('.') ? 'server' : 'topic');

  it('fills what is unknown, reply and fanout queues first, at most `max`, never an exclusive queue nor a stream\'s messages', async () => {
    const asked: string[] = [];
    const check = async (q: string) => {
      asked.push(q);
      return q === 'gone' ? null : { messageCount: 3, consumerCount: 2 };
    };
    const queues = [
      unreported('compute'),
      unreported('compute.host1'),
      unreported('reply_a'),
      unreported('mine', { exclusive: true }),
      unreported('compute_fanout', { type: 'stream' }),
      { name: 'known', messages: 7, consumers: 0, exclusive: false },
      unreported('gone'),
    ];
    const out = await withPassiveCounts(queues, check, kindOf, 3);
    expect(asked).toEqual(['reply_a', 'compute_fanout', 'compute.host1']);
    expect(out.map((q) => [q.name, q.messages, q.consumers])).toEqual([
      ['compute', null, null],
      ['compute.host1', 3, 2],
      ['reply_a', 3, 2],
      ['mine', null, null],
      ['compute_fanout', null, 2],
      ['known', 7, 0],
      ['gone', null, null],
    ]);
    // the list given is not changed
    expect(queues[1].consumers).toBeNull();
    // nothing unknown, or only what a declare cannot tell (a stream's messages, with statistics on): nothing asked
    asked.length = 0;
    const streamCounted = { name: 'compute_fanout', messages: null, consumers: 2, exclusive: false, type: 'stream' };
    expect(await withPassiveCounts([queues[5], streamCounted], check, kindOf)).toEqual([queues[5], streamCounted]);
    expect(asked).toEqual([]);
    // a check that fails leaves the counts unknown
    const failing = await withPassiveCounts([unreported('reply_b')], async () => Promise.reject(new Error('channel closed')), kindOf);
    expect(failing[0]).toMatchObject({ messages: null, consumers: null });
  });
});
