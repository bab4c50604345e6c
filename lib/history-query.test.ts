import { describe, expect, it } from 'vitest';
import { searchQuerySchema } from './history-contracts.ts';
import { parseSearchQuery } from './history-query.ts';

const ID = '7c3f0b5e9a0d4c2e8f1b6a3d5e7c9b1a';

// Texts as oslo.messaging prints them: str(MessagingTimeout(...)) captured from python3-oslo.messaging 14.0.3, the
// 14.7+ format string copied from oslo.messaging 16.1's amqpdriver.py (ReplyWaiter._raise_timeout_exception)
describe('parseSearchQuery', () => {
  it('reads a nova-api timeout log line (ReplyWaiters.get)', () => {
    const line = `2026-11-30 03:12:04.123 1234 ERROR nova.api.openstack.wsgi [req-1f0e8b1c-3b5a-4c9d-9e7f-0a1b2c3d4e5f req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee admin admin] Unexpected exception in API method: oslo_messaging.exceptions.MessagingTimeout: Timed out waiting for a reply to message ID ${ID}`;
    expect(parseSearchQuery(line)).toEqual({ kind: 'msg_id', value: ID, from: 'oslo timeout log line' });
  });

  it("reads 14.0.3's unformatted tuple", () => {
    const text = `oslo_messaging.exceptions.MessagingTimeout: ('Timed out waiting for a reply to message ID %s.', '${ID}')`;
    expect(parseSearchQuery(text)).toEqual({ kind: 'msg_id', value: ID, from: 'oslo timeout tuple' });
  });

  it("reads 14.7+'s unformatted tuple with the reply queue, in either key order", () => {
    const a = `MessagingTimeout: ('Timed out waiting for a reply %(reply_q)s to message ID %(msg_id)s.', {'msg_id': '${ID}', 'reply_q': 'reply_host-1:nova-api:3'})`;
    expect(parseSearchQuery(a)).toEqual({ kind: 'msg_id', value: ID, from: 'oslo timeout tuple (14.7+)', replyQ: 'reply_host-1:nova-api:3' });
    const b = `('Timed out waiting for a reply %(reply_q)s to message ID %(msg_id)s.', {'reply_q': 'reply_0123abcd', 'msg_id': '${ID}'})`;
    expect(parseSearchQuery(b)).toMatchObject({ kind: 'msg_id', value: ID, replyQ: 'reply_0123abcd' });
  });

  it('reads a formatted 14.7+ timeout (reply queue named before the msg_id)', () => {
    expect(parseSearchQuery(`Timed out waiting for a reply reply_abc123 to message ID ${ID}.`)).toEqual({
      kind: 'msg_id',
      value: ID,
      from: 'oslo timeout log line',
      replyQ: 'reply_abc123',
    });
  });

  it('reads the debug, info and warning lines', () => {
    expect(parseSearchQuery(`DEBUG oslo_messaging._drivers.amqpdriver [-] Expecting reply to msg ${ID} in queue reply_5f2d9e _send`)).toEqual({
      kind: 'msg_id',
      value: ID,
      from: 'oslo expecting reply',
      replyQ: 'reply_5f2d9e',
    });
    expect(parseSearchQuery(`INFO oslo_messaging._drivers.amqpdriver [-] No calling threads waiting for msg_id : ${ID}`)).toEqual({
      kind: 'msg_id',
      value: ID,
      from: 'oslo no calling threads',
    });
    expect(parseSearchQuery(`WARNING oslo_messaging._drivers.amqpdriver [-] reply_9e1c doesn't exist, drop reply to ${ID}`)).toEqual({
      kind: 'msg_id',
      value: ID,
      from: 'oslo drop reply',
      replyQ: 'reply_9e1c',
    });
  });

  it('reads bare ids, request ids, methods and hosts', () => {
    expect(parseSearchQuery(`  ${ID.toUpperCase()} `)).toEqual({ kind: 'msg_id', value: ID });
    expect(parseSearchQuery('req-1f0e8b1c-3b5a-4c9d-9e7f-0a1b2c3d4e5f')).toEqual({ kind: 'request_id', value: 'req-1f0e8b1c-3b5a-4c9d-9e7f-0a1b2c3d4e5f' });
    expect(parseSearchQuery('INFO nova.compute [req-1f0e8b1c-3b5a-4c9d-9e7f-0a1b2c3d4e5f - - - - -] hello')).toMatchObject({
      kind: 'request_id',
      value: 'req-1f0e8b1c-3b5a-4c9d-9e7f-0a1b2c3d4e5f',
    });
    expect(parseSearchQuery('build_and_run_instance')).toEqual({ kind: 'method', value: 'build_and_run_instance' });
    expect(parseSearchQuery('compute-1.example.org')).toEqual({ kind: 'host', value: 'compute-1.example.org' });
    expect(parseSearchQuery('nova-compute:4242')).toEqual({ kind: 'host', value: 'nova-compute:4242' });
    expect(parseSearchQuery('some words here')).toEqual({ kind: 'text', value: 'some words here' });
  });

  it('bounds the query and checks the time range', () => {
    expect(searchQuerySchema.safeParse({ q: '' }).success).toBe(false);
    expect(searchQuerySchema.safeParse({ q: 'x'.repeat(5000) }).success).toBe(false);
    expect(searchQuerySchema.safeParse({ q: ID, from: 'yesterday' }).success).toBe(false);
    expect(searchQuerySchema.safeParse({ q: ID, from: '2026-11-30T04:00:00Z', to: '2026-11-30T03:00:00Z' }).success).toBe(false);
    expect(searchQuerySchema.safeParse({ q: ID, from: '2026-11-30T03:00:00Z', to: '2026-11-30T04:00:00Z', limit: '10' }).success).toBe(true);
  });
});
