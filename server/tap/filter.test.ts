import { describe, expect, it } from 'vitest';
import type { DecodedMessage } from '../../lib/tap-contracts.ts';
import { FilterSyntaxError, globMatch, parseFilter, tryParseFilter } from './filter.ts';
import { decodedMessage } from './test-support.ts';

function msg(over: Partial<DecodedMessage>): DecodedMessage {
  return decodedMessage({
    id: '1',
    exchange: 'nova',
    routingKey: 'compute.host1',
    server: 'host1',
    method: 'get_instance',
    version: '5.1',
    msgId: 'abc123',
    replyQ: 'reply_1',
    timeoutMs: 60000,
    args: { instance_uuid: 'VM-42', flavor: 'm1.small' },
    context: { request_id: 'req-1', user_id: 'alice' },
    requestId: 'req-1',
    bytes: 100,
    ...over,
  });
}

const call = msg({});
const cast = msg({ id: '2', kind: 'cast', method: 'build_and_run_instance', topic: 'compute', server: null, requestId: 'req-2', context: { request_id: 'req-2' }, args: { image: 'cirros' } });
const note = msg({
  id: '3',
  kind: 'notification',
  method: null,
  topic: 'notifications',
  server: null,
  eventType: 'compute.instance.create.end',
  publisherId: 'compute.host2',
  priority: 'INFO',
  payload: { state: 'active' },
  args: null,
  requestId: null,
  context: {},
});
const all = [call, cast, note];
const ids = (f: string) => all.filter(parseFilter(f).predicate).map((m) => m.id);

describe('filter grammar', () => {
  it('matches everything when empty', () => {
    expect(ids('')).toEqual(['1', '2', '3']);
    expect(ids('   ')).toEqual(['1', '2', '3']);
  });

  it('field terms are whole-value, case-insensitive, with * and ? wildcards and comma alternatives', () => {
    expect(ids('kind:call')).toEqual(['1']);
    expect(ids('kind:call,cast')).toEqual(['1', '2']);
    expect(ids('method:get')).toEqual([]);
    expect(ids('method:get_*')).toEqual(['1']);
    expect(ids('method:GET_INSTANCE')).toEqual(['1']);
    expect(ids('topic:comp?te')).toEqual(['1', '2']);
    expect(ids('event:compute.instance.*')).toEqual(['3']);
    expect(ids('request_id:req-1')).toEqual(['1']);
    expect(ids('req:req-2')).toEqual(['2']);
    expect(ids('publisher:compute.host2 priority:info')).toEqual(['3']);
  });

  it('ANDs terms and negates with a leading -', () => {
    expect(ids('topic:compute -kind:cast')).toEqual(['1']);
    expect(ids('topic:compute server:host1')).toEqual(['1']);
    expect(ids('-server:host1')).toEqual(['2', '3']);
  });

  it('free text searches ids, names, args, payload and context; quotes group and are always text', () => {
    expect(ids('vm-42')).toEqual(['1']);
    expect(ids('active')).toEqual(['3']);
    expect(ids('alice')).toEqual(['1']);
    expect(ids('"m1.small"')).toEqual(['1']);
    expect(ids('"kind:call"')).toEqual([]);
    expect(ids('build_and')).toEqual(['2']);
  });

  it('rejects unknown fields and kinds, unterminated quotes and oversized input with readable errors', () => {
    expect(() => parseFilter('colour:red')).toThrow(FilterSyntaxError);
    expect(() => parseFilter('colour:red')).toThrow(/Unknown field 'colour'/);
    expect(() => parseFilter('kind:rpc')).toThrow(/Unknown kind 'rpc'/);
    expect(() => parseFilter('"open')).toThrow(/Unterminated quote/);
    expect(() => parseFilter('x'.repeat(1001))).toThrow(/longer than/);
    expect(() => parseFilter(Array.from({ length: 33 }, (_, i) => `t${i}`).join(' '))).toThrow(/more than 32 terms/);
    expect(tryParseFilter('kind:nope')).toEqual({ ok: false, error: expect.stringContaining('Unknown kind') });
    expect(tryParseFilter('kind:call').ok).toBe(true);
  });

  it('never evaluates input: regex metacharacters are literal and patterns stay linear', () => {
    expect(globMatch('a.b(c)+', 'A.B(C)+')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a*c?', 'abbbcd')).toBe(true);
    expect(globMatch('a*c?', 'abbbc')).toBe(false);
    expect(ids('method:(.*)')).toEqual([]);
    const evil = msg({ method: 'a'.repeat(5000) });
    const t0 = Date.now();
    expect(parseFilter(`method:${'*a'.repeat(100)}b`).predicate(evil)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('msg_id and global_request_id are fields; ids match by prefix from 4 characters, any value ending in … or ... as a prefix', () => {
    const withGlobal = msg({ id: '4', msgId: '7c3f9a0b11', context: { request_id: 'req-77', global_request_id: 'req-global-9' }, requestId: 'req-77' });
    const pool = [call, cast, note, withGlobal];
    const pick = (f: string) => pool.filter(parseFilter(f).predicate).map((m) => m.id);
    expect(pick('msg_id:7c3f9a0b11')).toEqual(['4']);
    expect(pick('msg_id:7c3f')).toEqual(['4']);
    expect(pick('msg_id:7c3')).toEqual([]);
    expect(pick('msg_id:7c3…')).toEqual(['4']);
    expect(pick('msg_id:7c3f9a0b12')).toEqual([]);
    expect(pick('global_request_id:req-global-9')).toEqual(['4']);
    expect(pick('global_request_id:req-glob')).toEqual(['4']);
    expect(pick('greq:REQ-GLOBAL-9')).toEqual(['4']);
    expect(pick('global_request_id:req-77')).toEqual([]);
    expect(pick('request_id:req-7')).toEqual(['4']);
    expect(pick('request_id:req-8')).toEqual([]);
    expect(pick('request_id:req-77')).toEqual(['4']);
    expect(pick('method:get_inst...')).toEqual(['1', '4']);
    expect(pick('method:get_inst')).toEqual([]);
    expect(pick('-msg_id:7c3f')).toEqual(['1', '2', '3']);
  });

  it('request_id and global_request_id find the reply and heartbeats of the calls they match, through the call lookup', () => {
    const reply = msg({ id: '10', kind: 'reply', method: null, msgId: 'abc123', replyQ: null, context: {}, requestId: null, args: null, result: { ok: 1 }, ending: true });
    const beat = msg({ id: '11', kind: 'heartbeat', method: null, msgId: 'abc123', replyQ: null, context: {}, requestId: null, args: null, ending: false });
    const other = msg({ id: '12', kind: 'reply', method: null, msgId: 'zzz999', replyQ: null, context: {}, requestId: null, args: null, result: 2, ending: true });
    const calls: Record<string, { requestId: string | null; globalRequestId: string | null }> = {
      abc123: { requestId: 'req-1', globalRequestId: 'req-g-1' },
    };
    const castNoId = { ...cast, msgId: null, replyQ: null };
    const pool = [call, castNoId, reply, beat, other];
    const pick = (f: string, linked = true) => pool.filter(parseFilter(f, linked ? { callOf: (id) => calls[id] ?? null } : {}).predicate).map((m) => m.id);
    expect(pick('request_id:req-1')).toEqual(['1', '10', '11']);
    expect(pick('request_id:req-1', false)).toEqual(['1']);
    expect(pick('global_request_id:req-g-1')).toEqual(['10', '11']);
    expect(pick('request_id:req-1 kind:reply')).toEqual(['10']);
    expect(pick('-request_id:req-1')).toEqual(['2', '12']);
    // msg_id needs no lookup: the reply carries the call's _msg_id
    expect(pick('msg_id:abc123', false)).toEqual(['1', '10', '11']);
  });
});
