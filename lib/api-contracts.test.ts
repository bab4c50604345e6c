import { describe, expect, it } from 'vitest';
import { describeFieldErrors, fieldErrors, rpcRequestSchema, statusSnapshotSchema } from './api-contracts.ts';
import { EMPTY_RPC_FORM, validateRpcForm } from './rpc-form.ts';
import { emptyPayloadSchema, trafficSubscribeSchema } from './socket-contracts.ts';

function errorsOf(input: unknown): Record<string, string> {
  const r = rpcRequestSchema.safeParse(input);
  if (r.success) throw new Error('expected a validation failure');
  return fieldErrors(r.error);
}

describe('rpcRequestSchema', () => {
  it('accepts the documented request and fills defaults', () => {
    const r = rpcRequestSchema.parse({ target: { topic: 'compute' }, method: 'get_host_uptime' });
    expect(r).toEqual({ type: 'call', target: { topic: 'compute' }, method: 'get_host_uptime', args: {} });
    const full = rpcRequestSchema.parse({
      type: 'call',
      target: { exchange: 'nova', topic: 'compute', server: 'host-1.example.com', namespace: 'baseapi', version: '6.0' },
      method: 'echo',
      args: { value: [1, { a: null }] },
      context: { request_id: 'req-1' },
      timeout: 2.5,
      callMonitorTimeout: 1,
    });
    expect(full.target.server).toBe('host-1.example.com');
    expect(full.timeout).toBe(2.5);
  });

  it('treats blank and null optional fields as absent', () => {
    const r = rpcRequestSchema.parse({ type: 'cast', target: { topic: ' compute ', server: '', exchange: null, version: '  ' }, method: 'm', context: '' });
    expect(r.target).toEqual({ topic: 'compute' });
    expect(r.context).toBeUndefined();
  });

  it('names each bad field', () => {
    const e = errorsOf({ type: 'poke', target: { topic: '', version: 'one' }, method: '1abc', args: [1], timeout: -1 });
    expect(Object.keys(e).sort()).toEqual(['args', 'method', 'target.topic', 'target.version', 'timeout', 'type'].sort());
    expect(e['target.topic']).toBe('a topic is required');
    expect(e['target.version']).toMatch(/1\.0/);
    expect(e.args).toMatch(/JSON object/);
    expect(describeFieldErrors(e)).toContain('target.topic: a topic is required');
  });

  it('refuses unknown keys, and fields that make no sense for the type', () => {
    expect(errorsOf({ target: { topic: 't' }, method: 'm', colour: 'red' })['(body)']).toMatch(/colour/);
    expect(errorsOf({ type: 'fanout', target: { topic: 't', server: 's' }, method: 'm' })['target.server']).toMatch(/every server/);
    expect(errorsOf({ type: 'cast', target: { topic: 't' }, method: 'm', timeout: 3 }).timeout).toMatch(/calls only/);
    expect(errorsOf({ target: { topic: 't' }, method: 'm', timeout: 3, callMonitorTimeout: 10 }).callMonitorTimeout).toMatch(/never fires/);
    expect(errorsOf({ target: { topic: 'a b' }, method: 'm' })['target.topic']).toMatch(/letters, digits/);
  });
});

describe('validateRpcForm', () => {
  const form = { ...EMPTY_RPC_FORM, topic: 'compute', method: 'echo', args: '{"value": 1}' };

  it('turns a valid form into a request', () => {
    const r = validateRpcForm({ ...form, timeout: '5', callMonitorTimeout: '2', context: '{"user_id": "u"}' });
    expect(r).toEqual({
      ok: true,
      request: { type: 'call', target: { topic: 'compute' }, method: 'echo', args: { value: 1 }, context: { user_id: 'u' }, timeout: 5, callMonitorTimeout: 2 },
    });
  });

  it('puts each error at its field and sends nothing', () => {
    const r = validateRpcForm({ ...EMPTY_RPC_FORM, args: '{"value": ', context: '[1]', timeout: 'soon', version: 'x' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.topic).toBe('a topic is required');
    expect(r.errors.method).toBe('a method is required');
    expect(r.errors.args).toMatch(/^args is not valid JSON/);
    expect(r.errors.context).toMatch(/JSON object.*not an array/);
    expect(r.errors.timeout).toMatch(/number of seconds/);
    expect(r.errors.version).toMatch(/1\.0/);
  });

  it('ignores call-only fields for casts and the server for fanouts', () => {
    const r = validateRpcForm({ ...form, type: 'fanout', server: 'h1', timeout: '5' });
    expect(r).toEqual({ ok: true, request: { type: 'fanout', target: { topic: 'compute' }, method: 'echo', args: { value: 1 } } });
  });

  it('keeps the replayed message id', () => {
    const r = validateRpcForm({ ...form, replayOf: '42' });
    expect(r.ok && r.request.replayOf).toBe('42');
  });
});

describe('socket contracts', () => {
  it('validates traffic subscriptions', () => {
    expect(trafficSubscribeSchema.parse({})).toEqual({ filter: '', limit: 200 });
    expect(trafficSubscribeSchema.safeParse({ filter: 'x'.repeat(1001) }).success).toBe(false);
    expect(trafficSubscribeSchema.safeParse({ filter: 'kind:call', limit: 5000 }).success).toBe(false);
    expect(trafficSubscribeSchema.safeParse({ filter: 'a', evil: true }).success).toBe(false);
    expect(trafficSubscribeSchema.safeParse('kind:call').success).toBe(false);
  });

  it('accepts only empty payloads where none is expected', () => {
    expect(emptyPayloadSchema.safeParse({}).success).toBe(true);
    expect(emptyPayloadSchema.safeParse(undefined).success).toBe(true);
    expect(emptyPayloadSchema.safeParse({ x: 1 }).success).toBe(false);
  });

  it('describes the status snapshot the server pushes', () => {
    const snap = {
      at: 1,
      transport: { driver: 'memory', url: 'memory:///', state: 'connected', embedded: true, demoFleet: true, controlExchange: 'openstack', links: [] },
      pool: { created: 0, idle: 0, inUse: 0, waiters: 0, max: 30, totalCreated: 0, totalExpired: 0, totalDiscarded: 0 },
      replyWaiter: null,
      tap: null,
      rates: null,
      calls: { inflight: 0, stuck: 0, done: 0 },
      oldestInflight: [],
      readOnly: false,
      viewers: 1,
    };
    expect(statusSnapshotSchema.safeParse(snap).success).toBe(true);
    expect(statusSnapshotSchema.safeParse({ ...snap, transport: { ...snap.transport, state: 'weird' } }).success).toBe(false);
  });
});

describe('transport selection (a fleet of brokers)', () => {
  it('takes a transport name or all on reads and socket feeds, a name only on actions', async () => {
    const { selectedTransport, transportNameSchema, transportSelectorSchema } = await import('./api-contracts.ts');
    const { fleetPayloadSchema, payloadTransport, ratesKey, ratesSubscribeSchema } = await import('./socket-contracts.ts');
    expect(transportSelectorSchema.parse('cell_1')).toBe('cell_1');
    expect(transportSelectorSchema.parse('all')).toBe('all');
    expect(transportSelectorSchema.safeParse('Cell 1').success).toBe(false);
    expect(transportSelectorSchema.safeParse('x'.repeat(33)).success).toBe(false);
    expect(transportNameSchema.safeParse('all').success).toBe(false);
    expect(selectedTransport('all')).toBeNull();
    expect(selectedTransport(undefined)).toBeNull();
    expect(selectedTransport('a')).toBe('a');
    expect(fleetPayloadSchema.parse({ transport: 'a' })).toEqual({ transport: 'a' });
    expect(fleetPayloadSchema.parse(undefined)).toBeUndefined();
    expect(fleetPayloadSchema.safeParse({ transport: 'a', other: 1 }).success).toBe(false);
    expect(payloadTransport({ transport: 'all' })).toBeNull();
    expect(trafficSubscribeSchema.parse({ transport: 'b' })).toMatchObject({ transport: 'b', filter: '', limit: 200 });
    // two charts on different transports never share a feed
    const r = ratesSubscribeSchema.parse({});
    expect(ratesKey({ ...r, transport: 'a' })).not.toBe(ratesKey({ ...r, transport: 'b' }));
    expect(rpcRequestSchema.parse({ target: { topic: 't' }, method: 'm', transport: 'cell1' }).transport).toBe('cell1');
    expect(errorsOf({ target: { topic: 't' }, method: 'm', transport: 'all' }).transport).toMatch(/not a transport name/);
  });
});
