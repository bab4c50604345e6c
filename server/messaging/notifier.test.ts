import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Delivery } from './driver.ts';
import { MemoryBroker } from './drivers/memory/index.ts';
import { decodeBody } from './envelope.ts';
import { MessagingError } from './errors.ts';
import { pyLoads } from './json.ts';
import { Notifier, pyUtcTimestamp, sanitizeContext } from './notifier.ts';
import { Transport } from './transport.ts';

describe('pyUtcTimestamp (str(timeutils.utcnow()))', () => {
  // Expected strings are Python's str(datetime(...)) for the same instants.
  it.each([
    [Date.UTC(2026, 10, 21, 14, 19, 16, 53), '2026-11-21 14:19:16.053000'],
    [Date.UTC(2026, 0, 2, 3, 4, 5, 1), '2026-01-02 03:04:05.001000'],
    [Date.UTC(2026, 11, 31, 23, 59, 59, 999), '2026-12-31 23:59:59.999000'],
    // microseconds == 0: Python leaves the fraction out entirely
    [Date.UTC(2026, 10, 21, 14, 19, 16, 0), '2026-11-21 14:19:16'],
    [Date.UTC(2000, 0, 1), '2000-01-01 00:00:00'],
    // years are zero-padded to four digits
    [Date.UTC(999, 0, 2, 3, 4, 5), '0999-01-02 03:04:05'],
  ])('formats %d as %j', (ms, text) => {
    expect(pyUtcTimestamp(new Date(ms))).toBe(text);
  });

  it('uses UTC whatever the local zone', () => {
    const d = new Date(Date.UTC(2026, 5, 1, 0, 30, 0, 500));
    expect(pyUtcTimestamp(d)).toBe('2026-06-01 00:30:00.500000');
  });
});

describe('sanitizeContext (notifier._sanitize_context, 14.0.3)', () => {
  it('keeps only whitelisted keys, in the context’s own order', () => {
    const ctxt = {
      auth_token: 'secret',
      request_id: 'req-1',
      user_id: 'u1',
      password: 'p',
      roles: ['admin'],
      is_admin: true,
      read_only: false,
      show_deleted: false,
      service_token: 'svc-secret',
      global_request_id: 'g',
      user: 'u1',
      project_domain: 'd',
      system_scope: null,
      client_timeout: 5,
    };
    const safe = sanitizeContext(ctxt);
    expect(safe).toEqual({
      request_id: 'req-1',
      user_id: 'u1',
      roles: ['admin'],
      is_admin: true,
      global_request_id: 'g',
      user: 'u1',
      project_domain: 'd',
      system_scope: null,
    });
    expect(Object.keys(safe)).toEqual(['request_id', 'user_id', 'roles', 'is_admin', 'global_request_id', 'user', 'project_domain', 'system_scope']);
  });

  it('keeps every key of the 14.0.3 whitelist', () => {
    const keys = [
      'user_id', 'project_id', 'domain_id', 'user_domain_id', 'project_domain_id', 'is_admin', 'request_id', 'roles',
      'user_name', 'project_name', 'domain_name', 'user_domain_name', 'project_domain_name', 'service_user_id',
      'service_user_domain_id', 'service_user_domain_name', 'service_project_id', 'service_project_name',
      'service_project_domain_id', 'service_project_domain_name', 'service_roles', 'global_request_id', 'system_scope',
      'user', 'domain', 'user_domain', 'project_domain',
    ];
    const ctxt = Object.fromEntries(keys.map((k, i) => [k, i]));
    expect(sanitizeContext({ ...ctxt, tenant: 'x', project: 'y', user_identity: 'z' })).toEqual(ctxt);
  });

  it('gives an empty context for null or undefined', () => {
    expect(sanitizeContext(null)).toEqual({});
    expect(sanitizeContext(undefined)).toEqual({});
  });
});

describe('Notifier on the memory transport', () => {
  let broker: MemoryBroker;
  let transport: Transport;

  beforeEach(() => {
    broker = new MemoryBroker();
    transport = new Transport('memory://', { memoryBroker: broker });
  });

  afterEach(async () => {
    vi.useRealTimers();
    await transport.close();
  });

  /** Everything sitting in `queue`, taken with a throwaway consumer. */
  async function drain(queue: string): Promise<Delivery[]> {
    const link = broker.connect('probe');
    const got: Delivery[] = [];
    await link.consume(queue, (d) => got.push(d), { noAck: true });
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
    await link.close();
    return got;
  }

  it('publishes a v2 notification like Notifier._notify + messagingv2, creating <topic>.<priority>', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 10, 21, 14, 19, 16, 53));
    const notifier = new Notifier(transport, { publisherId: 'compute.host1' });
    const sent = await notifier.info({ user_id: 'u1', auth_token: 'secret', request_id: 'req-1' }, 'compute.instance.create.end', { instance_id: 'abc' });
    expect(sent).toMatchObject({ exchange: 'openstack', routingKeys: ['notifications.info'] });
    expect(sent.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // the publisher declared and bound the queue, with the topic-queue flags
    expect(broker.listQueues()).toEqual([expect.objectContaining({ name: 'notifications.info', durable: false, autoDelete: false, arguments: {}, messages: 1 })]);
    expect(broker.listBindings()).toContainEqual({ source: 'openstack', destination: 'notifications.info', routingKey: 'notifications.info', arguments: {} });
    expect(broker.listExchanges()).toContainEqual(expect.objectContaining({ name: 'openstack', type: 'topic', durable: false, autoDelete: false }));

    const [d] = await drain('notifications.info');
    expect(d.exchange).toBe('openstack');
    expect(d.routingKey).toBe('notifications.info');
    expect(d.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0 });
    const { message, enveloped } = decodeBody(d.body, d.properties.headers);
    expect(enveloped).toBe(true);
    expect(Object.keys(message)).toEqual([
      'message_id',
      'publisher_id',
      'event_type',
      'priority',
      'payload',
      'timestamp',
      '_unique_id',
      '_context_user_id',
      '_context_request_id',
    ]);
    expect(message).toMatchObject({
      message_id: sent.messageId,
      publisher_id: 'compute.host1',
      event_type: 'compute.instance.create.end',
      priority: 'INFO',
      payload: { instance_id: 'abc' },
      timestamp: '2026-11-21 14:19:16.053000',
      _context_user_id: 'u1',
      _context_request_id: 'req-1',
    });
    expect(message._unique_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('sends v1 bodies, unenveloped, with the messaging driver', async () => {
    const notifier = new Notifier(transport, { publisherId: 'p', driver: 'messaging' });
    await notifier.error(null, 'compute.instance.create.error', { instance_id: 'abc' });
    const [d] = await drain('notifications.error');
    const body = pyLoads(d.body) as Record<string, unknown>;
    expect(body).not.toHaveProperty('oslo.version');
    expect(body).toMatchObject({ publisher_id: 'p', priority: 'ERROR', event_type: 'compute.instance.create.error' });
    expect(Object.keys(body).some((k) => k.startsWith('_context_'))).toBe(false);
  });

  it('maps each priority method to its uppercase priority and lowercase routing key (warn → WARN)', async () => {
    const notifier = new Notifier(transport, { publisherId: 'p' });
    const calls = [
      ['audit', 'AUDIT'],
      ['debug', 'DEBUG'],
      ['info', 'INFO'],
      ['warn', 'WARN'],
      ['error', 'ERROR'],
      ['critical', 'CRITICAL'],
      ['sample', 'SAMPLE'],
    ] as const;
    for (const [method, priority] of calls) {
      const sent = await notifier[method](null, 'e', {});
      expect(sent.routingKeys).toEqual([`notifications.${method}`]);
      const [d] = await drain(`notifications.${method}`);
      expect(decodeBody(d.body).message.priority).toBe(priority);
    }
  });

  it('sends one copy per topic with the same message_id and timestamp, each with its own _unique_id', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 10, 21, 14, 19, 16, 53));
    // Let the clock move while the first copy is being sent: oslo stamps the message once.
    const send = transport.send.bind(transport);
    vi.spyOn(transport, 'send').mockImplementation(async (spec) => {
      vi.setSystemTime(Date.now() + 1500);
      return send(spec);
    });
    const notifier = new Notifier(transport, { publisherId: 'p', topics: ['notifications', 'versioned_notifications'] });
    const sent = await notifier.info({ user_id: 'u1' }, 'e', { a: 1 });
    expect(sent.routingKeys).toEqual(['notifications.info', 'versioned_notifications.info']);
    const a = decodeBody((await drain('notifications.info'))[0].body).message;
    const b = decodeBody((await drain('versioned_notifications.info'))[0].body).message;
    expect(a.message_id).toBe(sent.messageId);
    expect(b.message_id).toBe(sent.messageId);
    expect(a.timestamp).toBe('2026-11-21 14:19:16.053000');
    expect(b.timestamp).toBe(a.timestamp);
    expect(a._unique_id).not.toBe(b._unique_id);
  });

  it('sends nothing with the noop driver', async () => {
    const notifier = new Notifier(transport, { driver: 'noop' });
    const sent = await notifier.info(null, 'e', {});
    expect(sent.routingKeys).toEqual([]);
    expect(broker.listQueues()).toEqual([]);
  });

  it('needs a publisher_id, which prepare() can supply', async () => {
    const notifier = new Notifier(transport);
    await expect(notifier.info(null, 'e', {})).rejects.toThrow(MessagingError);
    const prepared = notifier.prepare({ publisherId: 'compute.host2', retry: 3 });
    expect(prepared.retry).toBe(3);
    expect(prepared.prepare({}).retry).toBe(3);
    await prepared.info(null, 'e', {});
    const [d] = await drain('notifications.info');
    expect(decodeBody(d.body).message.publisher_id).toBe('compute.host2');
  });

  it('uses the transport’s control_exchange', async () => {
    const nova = new Transport('memory://', { memoryBroker: broker, conf: { control_exchange: 'nova' } });
    try {
      const sent = await new Notifier(nova, { publisherId: 'p' }).info(null, 'e', {});
      expect(sent.exchange).toBe('nova');
      expect(broker.listBindings()).toContainEqual({ source: 'nova', destination: 'notifications.info', routingKey: 'notifications.info', arguments: {} });
    } finally {
      await nova.close();
    }
  });
});
