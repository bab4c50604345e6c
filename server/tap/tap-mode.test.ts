/**
 * ModeControl with a fake link: which mode each TAP_MODE starts in, the probe when nothing can tell
 * whether tracing is on, the queues each mode keeps, and auto mode following a trace.
 */
import { describe, expect, it } from 'vitest';
import type { TapModeSetting, TapStatus } from '../../lib/tap-contracts.ts';
import { silentLogger, type ResilientLink } from '../messaging/index.ts';
import { InspectorError, type BrokerInspector } from './inspector.ts';
import { ModeControl, TAP_QUEUE_PREFIX } from './tap-mode.ts';
import { waitFor } from './test-support.ts';

function setup(requestedMode: TapModeSetting, tracing: boolean | null, over: { probeSeen?: boolean } = {}) {
  const ops: string[] = [];
  let modes: ModeControl | null = null;
  const link = {
    assertQueue: async (q: string) => void ops.push(`declare ${q}`),
    bindQueue: async (q: string, x: string, key: string) => void ops.push(`bind ${q} ${x} ${key}`),
    consume: async (q: string) => void ops.push(`consume ${q}`),
    deleteQueue: async (q: string) => void ops.push(`delete ${q}`),
    publish: async (_x: string, q: string) => {
      ops.push(`publish ${q}`);
      if (over.probeSeen) setTimeout(() => modes?.probeTraced(q), 5);
    },
  } as unknown as ResilientLink;
  const inspector = {
    source: tracing === null ? 'passive' : 'memory',
    tracing: async () => tracing,
    canEnableTracing: async () => tracing !== null,
    enableTracing: async () => undefined,
    describe: () => (tracing === null ? 'passive declares (no management API)' : 'memory broker /'),
  } as unknown as BrokerInspector;
  let state: TapStatus['state'] = 'running';
  let statuses = 0;
  modes = new ModeControl({
    requestedMode,
    vhost: '/',
    queueMaxLength: 100,
    queueMessageTtlMs: 1000,
    probeTimeoutMs: 50,
    modeCheckMs: 1000,
    firehoseAutoOffMs: 0,
    inspector: () => inspector,
    link: () => link,
    id: () => 'abc',
    state: () => state,
    serial: (fn) => fn(),
    onDelivery: () => undefined,
    onTrace: () => undefined,
    discover: async () => void ops.push('discover'),
    dropBindings: () => void ops.push('drop bindings'),
    emitStatus: () => void statuses++,
    clock: () => 0,
    log: silentLogger,
  });
  return { modes, ops, inspector, statuses: () => statuses, setState: (s: TapStatus['state']) => (state = s) };
}

const Q = TAP_QUEUE_PREFIX;

describe('ModeControl', () => {
  it('takes bindings and firehose as asked, whatever tracing says', async () => {
    expect(await setup('bindings', true).modes.decide()).toBe('bindings');
    expect(await setup('firehose', false).modes.decide()).toBe('firehose');
  });

  it('auto: follows what the inspector says, and probes when it cannot tell', async () => {
    const on = setup('auto', true);
    expect(await on.modes.decide()).toBe('firehose');
    expect(on.modes.firehoseStatus).toEqual({ on: true, detectedBy: 'memory', canEnable: false });
    expect(on.ops).toEqual([]);

    const silent = setup('auto', null);
    expect(await silent.modes.decide()).toBe('bindings');
    expect(silent.modes.firehoseStatus).toMatchObject({ on: false, detectedBy: 'probe' });
    expect(silent.ops).toEqual([`declare ${Q}abc-firehose`, `bind ${Q}abc-firehose amq.rabbitmq.trace publish.#`, `bind ${Q}abc-firehose amq.rabbitmq.trace deliver.#`, `consume ${Q}abc-firehose`, `declare ${Q}abc-probe`, `publish ${Q}abc-probe`]);

    const traced = setup('auto', null, { probeSeen: true });
    expect(await traced.modes.decide()).toBe('firehose');
    expect(traced.modes.firehoseStatus).toMatchObject({ on: true, detectedBy: 'probe' });
  });

  it('auto bindings mode keeps the trace queue, and the first trace of real traffic switches to firehose', async () => {
    const env = setup('auto', false);
    await env.modes.enter('bindings');
    expect(env.ops).toEqual([`declare ${Q}abc`, 'discover', `consume ${Q}abc`, `declare ${Q}abc-firehose`, `bind ${Q}abc-firehose amq.rabbitmq.trace publish.#`, `bind ${Q}abc-firehose amq.rabbitmq.trace deliver.#`, `consume ${Q}abc-firehose`]);
    expect(env.modes.bindings).toBe(`${Q}abc`);
    expect(env.modes.traceArrived()).toBe(false);
    await waitFor(() => env.modes.mode === 'firehose', 'firehose mode');
    expect(env.ops.slice(-2)).toEqual(['drop bindings', `delete ${Q}abc`]);
    expect(env.modes.bindings).toBeNull();
    expect(env.modes.consumedQueues).toEqual([null, `${Q}abc-firehose`]);
    expect(env.modes.traceArrived()).toBe(true);
  });

  it('TAP_MODE=bindings never switches on a trace, and keeps no trace queue', async () => {
    const env = setup('bindings', false);
    await env.modes.enter('bindings');
    expect(env.ops).toEqual([`declare ${Q}abc`, 'discover', `consume ${Q}abc`]);
    expect(env.modes.traceArrived()).toBe(false);
    await new Promise((r) => setTimeout(r, 10));
    expect(env.modes.mode).toBe('bindings');
  });

  it('refuses to turn tracing on without the rights, naming the command to run', async () => {
    const env = setup('auto', null);
    await expect(env.modes.enable()).rejects.toThrow(InspectorError);
    await expect(env.modes.enable()).rejects.toThrow(/needs the management API .* Run: rabbitmqctl trace_on -p \//);
  });
});
