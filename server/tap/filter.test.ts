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
});
