/**
 * ModeControl with a fake link: which mode each TAP_MODE starts in, the probe when nothing can tell
 * whether tracing is on, the queues each mode keeps, and auto mode following a trace.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TapModeSetting, TapStatus } from '../../lib/tap-contracts.ts';
import { silentLogger, type ResilientLink } from '../messaging/index.ts';
import { loadFixture, replayFetch, type ReplayRequest } from './fixtures/replay.ts';
import { InspectorError, ManagementInspector, type BrokerInspector } from './inspector.ts';
import { CAN_ENABLE_RECHECK_MS, ModeControl, TAP_QUEUE_PREFIX } from './tap-mode.ts';
import { waitFor } from './test-support.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

function setup(
  requestedMode: TapModeSetting,
  tracing: boolean | null,
  over: { probeSeen?: boolean; probeLateMs?: number; inspector?: BrokerInspector; vhost?: string; clock?: () => number } = {},
) {
  const ops: string[] = [];
  let modes: ModeControl | null = null;
  const link = {
    assertQueue: async (q: string) => void ops.push(`declare ${q}`),
    bindQueue: async (q: string, x: string, key: string) => void ops.push(`bind ${q} ${x} ${key}`),
    consume: async (q: string) => void ops.push(`consume ${q}`),
    deleteQueue: async (q: string) => void ops.push(`delete ${q}`),
    publish: async (_x: string, q: string) => {
      ops.push(`publish ${q}`);
      if (over.probeSeen) setTimeout(() => modes?.probeTraced(q), over.probeLateMs ?? 5);
    },
  } as unknown as ResilientLink;
  const inspector =
    over.inspector ??
    ({
      source: tracing === null ? 'passive' : 'memory',
      tracing: async () => tracing,
      canEnableTracing: async () => tracing !== null,
      enableTracing: async () => undefined,
      describe: () => (tracing === null ? 'passive declares (no management API)' : 'memory broker /'),
    } as unknown as BrokerInspector);
  let state: TapStatus['state'] = 'running';
  let statuses = 0;
  modes = new ModeControl({
    requestedMode,
    vhost: over.vhost ?? '/',
    queueMaxLength: 100,
    queueMessageTtlMs: 1000,
    probeTimeoutMs: 50,
    modeCheckMs: 1000,
    firehoseAutoOffMs: 0,
    retryDelayMs: 1,
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
    clock: over.clock ?? (() => 0),
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

/**
 * A one-node management API (the sid fixture's answers) whose vhost tracing the PUTs change, and which gives no
 * answer (an aborted fetch, as AbortSignal.timeout does on a loaded broker) to the requests `stall` picks. A
 * stalled PUT may still be applied (`applyStalled`): the broker did it, the answer was lost.
 */
function fakeManagement(tracing: boolean, stall: (r: ReplayRequest, n: number) => boolean = () => false, applyStalled = false) {
  const f = loadFixture('sid-kolla');
  const vhost = f.vhost;
  const api = { tracing, admin: true as boolean | null, requests: 0 };
  const replay = replayFetch({ '127.0.0.1:15674': f }, (r) => {
    if (r.path === '/whoami') return api.admin === null ? undefined : { status: 200, json: { name: 'guest', tags: api.admin ? ['administrator'] : ['monitoring'] } };
    if (r.path === '/vhosts' && r.method === 'GET') return { status: 200, json: [{ name: vhost, tracing: api.tracing, description: 'd', tags: [], default_queue_type: 'classic' }] };
    if (r.path === `/vhosts/${vhost}` && r.method === 'PUT') {
      api.tracing = (r.body as { tracing: boolean }).tracing;
      return { status: 204, json: null };
    }
    return undefined;
  });
  vi.stubGlobal('fetch', async (url: string | URL, init?: RequestInit) => {
    const u = new URL(String(url));
    const r: ReplayRequest = { method: (init?.method ?? 'GET').toUpperCase(), listener: u.host, path: decodeURIComponent(u.pathname.replace(/^\/api/, '')), query: u.search, body: typeof init?.body === 'string' ? JSON.parse(init.body) : null };
    if ((r.path === '/whoami' && api.admin === null) || stall(r, api.requests++)) {
      if (applyStalled && r.method === 'PUT') await replay.fetch(url, init);
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    }
    return replay.fetch(url, init);
  });
  const inspector = new ManagementInspector({ url: 'http://guest:guest@127.0.0.1:15674', vhost });
  return { api, vhost, inspector, replay };
}

describe('ModeControl through a management API that is slow to answer', () => {
  it('auto: a tracing read that times out at start is asked again, not answered by the probe', async () => {
    let stalls = 2;
    const m = fakeManagement(true, (r) => r.path === '/vhosts' && stalls-- > 0);
    const env = setup('auto', true, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    expect(await env.modes.decide()).toBe('firehose');
    expect(env.modes.firehoseStatus).toEqual({ on: true, detectedBy: 'management', canEnable: true });
    expect(env.ops.filter((o) => o.startsWith('publish'))).toEqual([]);
  });

  it('auto: an API that never answers falls back to the probe after a bounded number of reads', async () => {
    const m = fakeManagement(true, (r) => r.path === '/overview');
    const env = setup('auto', true, { inspector: m.inspector, vhost: m.vhost, probeSeen: true });
    await env.modes.setUp(m.inspector);
    expect(await env.modes.decide()).toBe('firehose');
    expect(env.modes.firehoseStatus).toMatchObject({ on: true, detectedBy: 'probe' });
    expect(m.replay.requests.filter((r) => r.path === '/overview')).toEqual([]);
  });

  it('enable() resolves in firehose mode even when the read after the PUT times out', async () => {
    // every read of the vhost list after the PUT gives no answer
    const m = fakeManagement(false, (r) => r.path === '/vhosts' && m.replay.requests.some((x) => x.method === 'PUT'));
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enter(await env.modes.decide());
    expect(env.modes.mode).toBe('bindings');
    await env.modes.enable();
    expect(m.api.tracing).toBe(true);
    expect(env.modes.mode).toBe('firehose');
    expect(env.modes.firehoseStatus).toMatchObject({ on: true, detectedBy: 'management' });
    expect(env.modes.coverage).toMatchObject({ on: 1, known: 1, nodes: [{ tracing: true, enabledByOsloscope: true }] });
  });

  it('enable() that could turn nothing on says so, and the next check finishes the job', async () => {
    let down = true;
    const m = fakeManagement(false, (r) => down && r.path !== '/whoami');
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enter('bindings');
    await expect(env.modes.enable()).rejects.toThrow(/Tracing is not on yet: .*unreachable.*tries again at its next check/);
    expect(env.modes.mode).toBe('bindings');
    expect(m.api.tracing).toBe(false);
    down = false;
    await env.modes.check();
    expect(m.api.tracing).toBe(true);
    expect(env.modes.mode).toBe('firehose');
    expect(env.modes.coverage?.nodes[0]).toMatchObject({ tracing: true, enabledByOsloscope: true });
    await env.modes.disableOnStop();
    expect(m.api.tracing).toBe(false);
  });

  it('FIREHOSE_ENABLE: a PUT whose answer was lost (but which the broker applied) is tried again, and turned off at stop', async () => {
    let stalls = 1;
    const m = fakeManagement(false, (r) => r.method === 'PUT' && stalls-- > 0, true);
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enableAtStart();
    expect(env.modes.lastFirehoseError).toBeNull();
    expect(m.api.tracing).toBe(true);
    expect(await env.modes.decide()).toBe('firehose');
    await env.modes.disableOnStop();
    expect(m.api.tracing).toBe(false);
  });

  it('FIREHOSE_ENABLE: a PUT that never answers (though applied) counts as osloscope\u2019s once a read shows tracing on', async () => {
    const m = fakeManagement(false, (r) => r.method === 'PUT' && (r.body as { tracing?: boolean }).tracing === true, true);
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enableAtStart();
    // the re-read after the PUTs sees tracing on: it was osloscope's doing, so it is undone at stop
    expect(m.api.tracing).toBe(true);
    expect(env.modes.coverage?.nodes[0]).toMatchObject({ tracing: true, enabledByOsloscope: true });
    await env.modes.disableOnStop();
    expect(m.api.tracing).toBe(false);
  });

  it('follows tracing an operator turns on and off later (rabbitmqctl trace_on / trace_off)', async () => {
    const m = fakeManagement(false);
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enter(await env.modes.decide());
    expect(env.modes.mode).toBe('bindings');
    m.api.tracing = true;
    await env.modes.check();
    expect(env.modes.mode).toBe('firehose');
    expect(env.modes.firehoseStatus).toMatchObject({ on: true, detectedBy: 'management' });
    m.api.tracing = false;
    await env.modes.check();
    expect(env.modes.mode).toBe('bindings');
    expect(env.modes.firehoseStatus).toMatchObject({ on: false });
    // never turned on by osloscope: nothing to turn off at stop
    await env.modes.disableOnStop();
    expect(m.replay.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('TAP_MODE=bindings keeps the tracing state current too', async () => {
    const m = fakeManagement(false);
    const env = setup('bindings', false, { inspector: m.inspector, vhost: m.vhost });
    await env.modes.setUp(m.inspector);
    await env.modes.enter(await env.modes.decide());
    m.api.tracing = true;
    await env.modes.check();
    expect(env.modes.mode).toBe('bindings');
    expect(env.modes.firehoseStatus.on).toBe(true);
  });

  it('whether tracing can be turned on is asked again while /whoami gives no answer, and now and then after', async () => {
    let now = 0;
    const m = fakeManagement(false);
    m.api.admin = null;
    const env = setup('auto', false, { inspector: m.inspector, vhost: m.vhost, clock: () => now });
    await env.modes.setUp(m.inspector);
    expect(env.modes.firehoseStatus.canEnable).toBe(false);
    await env.modes.enter(await env.modes.decide());
    await env.modes.check();
    expect(env.modes.firehoseStatus.canEnable).toBe(false);
    m.api.admin = true;
    const before = env.statuses();
    await env.modes.check();
    expect(env.modes.firehoseStatus.canEnable).toBe(true);
    expect(env.statuses()).toBeGreaterThan(before);
    // known: not asked at every check, but again after CAN_ENABLE_RECHECK_MS (tags can be taken away)
    m.api.admin = false;
    await env.modes.check();
    expect(env.modes.firehoseStatus.canEnable).toBe(true);
    now += CAN_ENABLE_RECHECK_MS;
    await env.modes.check();
    expect(env.modes.firehoseStatus.canEnable).toBe(false);
  });
});

describe('ModeControl and a late probe', () => {
  it('auto: a probe trace that comes after its wait ran out still switches bindings mode to firehose', async () => {
    const env = setup('auto', null, { probeSeen: true, probeLateMs: 120 });
    expect(await env.modes.decide()).toBe('bindings');
    await env.modes.enter('bindings');
    await waitFor(() => env.modes.mode === 'firehose', 'firehose mode after the late probe trace');
    expect(env.modes.firehoseStatus).toMatchObject({ on: true, detectedBy: 'probe' });
  });
});
