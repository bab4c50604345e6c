import { describe, expect, it } from 'vitest';
import { ConnectionLost, MessageDeliveryFailure, MessageUndeliverable, MessagingError } from '../../errors.ts';
import { bodies, closed, collect, connect, newBroker, settle, transient } from './test-helpers.ts';

describe('MemoryBroker routing', () => {
  it('routes a topic exchange with * and # (zero words included)', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('openstack', 'topic', transient);
    for (const q of ['all', 'compute-any', 'compute-one', 'info']) await link.assertQueue(q, transient);
    await link.bindQueue('all', 'openstack', '#');
    await link.bindQueue('compute-any', 'openstack', 'compute.#');
    await link.bindQueue('compute-one', 'openstack', 'compute.*');
    await link.bindQueue('info', 'openstack', '#.info');
    for (const rk of ['compute', 'compute.host1', 'compute.host1.x', 'notifications.info', 'info'])
      await link.publish('openstack', rk, Buffer.from(rk), {});

    const counts = Object.fromEntries(broker.listQueues().map((q) => [q.name, q.messagesReady]));
    expect(counts).toEqual({ all: 5, 'compute-any': 3, 'compute-one': 1, info: 2 });
    const { got } = await collect(link, 'compute-any');
    await settle();
    expect(bodies(got)).toEqual(['compute', 'compute.host1', 'compute.host1.x']);
  });

  it('delivers one copy per queue even when several bindings match', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('x', 'topic', transient);
    await link.assertQueue('q', transient);
    await link.bindQueue('q', 'x', 'a.*');
    await link.bindQueue('q', 'x', '#');
    await link.bindQueue('q', 'x', '#'); // identical binding: a no-op
    await link.publish('x', 'a.b', Buffer.from('m'), {});
    expect(broker.listQueues()[0].messagesReady).toBe(1);
    expect(broker.listBindings().filter((b) => b.source === 'x')).toHaveLength(2);
  });

  it('fans out to every bound queue regardless of routing key', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('compute_fanout', 'fanout', { durable: false, autoDelete: true });
    await link.assertQueue('f1', transient);
    await link.assertQueue('f2', transient);
    await link.bindQueue('f1', 'compute_fanout', 'compute');
    await link.bindQueue('f2', 'compute_fanout', 'other');
    await link.publish('compute_fanout', '', Buffer.from('hello'), {});
    expect(broker.listQueues().map((q) => [q.name, q.messagesReady])).toEqual([
      ['f1', 1],
      ['f2', 1],
    ]);
  });

  it('routes direct exchanges on the exact key and headers exchanges on x-match', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('d', 'direct', transient);
    await link.assertExchange('h', 'headers', transient);
    await link.assertQueue('d1', transient);
    await link.assertQueue('hall', transient);
    await link.assertQueue('hany', transient);
    await link.bindQueue('d1', 'd', 'key');
    await link.bindQueue('hall', 'h', '', { 'x-match': 'all', a: 1, b: 'two' });
    await link.bindQueue('hany', 'h', '', { 'x-match': 'any', a: 1, b: 'two' });
    await link.publish('d', 'key', Buffer.from('1'), {});
    await link.publish('d', 'key.more', Buffer.from('2'), {});
    await link.publish('h', '', Buffer.from('3'), { headers: { a: 1 } });
    await link.publish('h', '', Buffer.from('4'), { headers: { a: 1, b: 'two' } });
    await link.publish('h', '', Buffer.from('5'), { headers: { a: 2 } });
    const ready = Object.fromEntries(broker.listQueues().map((q) => [q.name, q.messagesReady]));
    expect(ready).toEqual({ d1: 1, hall: 1, hany: 2 });
  });

  it('routes the default exchange to the queue named by the routing key', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertQueue('reply_abc', transient);
    const { got } = await collect(link, 'reply_abc');
    await link.publish('', 'reply_abc', Buffer.from('r'), { contentType: 'application/json' });
    await link.publish('', 'nobody', Buffer.from('lost'), {}); // not mandatory: silently dropped
    await settle();
    expect(bodies(got)).toEqual(['r']);
    expect(got[0].exchange).toBe('');
    expect(got[0].routingKey).toBe('reply_abc');
  });

  it('refuses to declare, bind to or passively check the default exchange (403)', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await a.assertQueue('q', transient);
    await expect(a.checkExchange('')).rejects.toMatchObject({ code: 403 });
    expect(a.isOpen).toBe(true); // passive: a throwaway channel on the rabbit driver
    await expect(a.bindQueue('q', '', 'q')).rejects.toMatchObject({
      code: 403,
      message: 'ACCESS_REFUSED - operation not permitted on the default exchange',
    });
    expect(a.isOpen).toBe(false);
    const b = connect(broker);
    await expect(b.assertExchange('', 'direct', { durable: true, autoDelete: false })).rejects.toMatchObject({ code: 403 });
    expect(b.isOpen).toBe(false);
  });

  it('delivers properties and headers exactly as published', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertQueue('q', transient);
    const { got } = await collect(link, 'q');
    const props = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { compression: 'application/x-gzip', n: 5, nested: { a: [1, 'b'] } },
      deliveryMode: 2,
      priority: 0,
      expiration: '60000',
      correlationId: 'c',
      replyTo: 'r',
      messageId: 'm',
      timestamp: 1_700_000_000,
      type: 't',
      appId: 'app',
    };
    await link.publish('', 'q', Buffer.from('{"a": 1}'), { ...props, mandatory: true });
    await settle();
    expect(got).toHaveLength(1);
    expect(got[0].properties).toEqual(props);
    expect('mandatory' in got[0].properties).toBe(false);
    expect(got[0].body.toString()).toBe('{"a": 1}');
    expect(got[0].redelivered).toBe(false);
  });

  it('copies the body at publish time', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertQueue('q', transient);
    const body = Buffer.from('abc');
    await link.publish('', 'q', body, {});
    body.write('xyz');
    const { got } = await collect(link, 'q');
    await settle();
    expect(bodies(got)).toEqual(['abc']);
  });

  it('pre-declares the amq.* exchanges, the trace exchange internal', () => {
    const broker = newBroker();
    const names = broker.listExchanges().map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['', 'amq.direct', 'amq.fanout', 'amq.topic', 'amq.rabbitmq.trace']));
    const trace = broker.listExchanges().find((x) => x.name === 'amq.rabbitmq.trace');
    expect(trace).toMatchObject({ type: 'topic', internal: true, durable: true });
  });
});

describe('MemoryBroker publish failures', () => {
  it('rejects a mandatory publish nobody takes with MessageUndeliverable and stores nothing', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('openstack', 'topic', transient);
    await link.assertQueue('compute', transient);
    await link.bindQueue('compute', 'openstack', 'compute');
    const err = await link.publish('openstack', 'scheduler', Buffer.from('x'), { mandatory: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageUndeliverable);
    expect(err).toMatchObject({ code: 312, exchange: 'openstack', routingKey: 'scheduler' });
    expect(link.isOpen).toBe(true);
    expect(broker.listQueues().reduce((n, q) => n + q.messages, 0)).toBe(0);
    // the same publish without mandatory is confirmed and dropped
    await expect(link.publish('openstack', 'scheduler', Buffer.from('x'), {})).resolves.toBeUndefined();
  });

  it('kills the link with 404 when publishing to an unknown exchange', async () => {
    const broker = newBroker();
    const link = connect(broker);
    const onClose = closed(link);
    const err = await link.publish('nope', 'k', Buffer.from('x'), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect(err).toMatchObject({ code: 404, message: "NOT_FOUND - no exchange 'nope' in vhost '/'" });
    expect(await onClose).toBe(err);
    expect(link.isOpen).toBe(false);
    await expect(link.assertQueue('q', transient)).rejects.toBeInstanceOf(ConnectionLost);
  });

  it('refuses publishing to an internal exchange (403) and bad expirations (406)', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await expect(a.publish('amq.rabbitmq.trace', 'k', Buffer.from('x'), {})).rejects.toMatchObject({
      code: 403,
      message: "ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'",
    });
    const cases: [string, string][] = [
      ['abc', 'no_integer'],
      ['-5', '{value_negative,-5}'],
      ['1.5', '{leftover_string,".5"}'],
    ];
    for (const [expiration, reason] of cases) {
      const l = connect(broker);
      await l.assertQueue(`q${reason.length}`, transient);
      await expect(l.publish('', `q${reason.length}`, Buffer.from('x'), { expiration })).rejects.toMatchObject({
        code: 406,
        message: `PRECONDITION_FAILED - invalid expiration '${expiration}': ${reason}`,
      });
      expect(l.isOpen).toBe(false);
    }
  });

  it('nacks a publish an x-overflow reject-publish queue refuses, but other queues keep their copy', async () => {
    const broker = newBroker();
    const link = connect(broker);
    await link.assertExchange('fx', 'fanout', { durable: false, autoDelete: true });
    await link.assertQueue('capped', { ...transient, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await link.assertQueue('open', transient);
    await link.bindQueue('capped', 'fx', '');
    await link.bindQueue('open', 'fx', '');
    await link.publish('fx', '', Buffer.from('1'), {});
    const err = await link.publish('fx', '', Buffer.from('2'), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageDeliveryFailure);
    expect(link.isOpen).toBe(true);
    const q = Object.fromEntries(broker.listQueues().map((v) => [v.name, v]));
    expect(q.capped.messagesReady).toBe(1);
    expect(q.capped.messagesDropped).toBe(1);
    expect(q.open.messagesReady).toBe(2);
  });

  it('checks user_id against the authenticated user', async () => {
    const broker = newBroker({ user: 'nova' });
    const link = connect(broker);
    await link.assertQueue('q', transient);
    await link.publish('', 'q', Buffer.from('ok'), { userId: 'nova' });
    await expect(link.publish('', 'q', Buffer.from('x'), { userId: 'guest' })).rejects.toMatchObject({
      code: 406,
      message: "PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'nova'",
    });
  });
});

describe('MemoryBroker declare equivalence', () => {
  it('rejects an inequivalent exchange redeclare with 406 and kills the link', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await a.assertExchange('x', 'topic', { durable: false, autoDelete: false });
    await a.assertExchange('x', 'topic', { durable: false, autoDelete: false }); // equivalent: fine
    const onClose = closed(a);
    const err = await a.assertExchange('x', 'topic', { durable: true, autoDelete: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessagingError);
    expect(err).toMatchObject({
      code: 406,
      message: "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    });
    expect(await onClose).toBe(err);
    expect(a.isOpen).toBe(false);
    await expect(a.publish('x', 'k', Buffer.from(''), {})).rejects.toBeInstanceOf(ConnectionLost);

    const texts: string[] = [];
    for (const [type, opts] of [
      ['fanout', { durable: false, autoDelete: false }],
      ['topic', { durable: false, autoDelete: true }],
      ['topic', { durable: false, autoDelete: false, internal: true }],
    ] as const) {
      const l = connect(broker);
      texts.push(((await l.assertExchange('x', type, opts).catch((e: unknown) => e)) as Error).message);
      expect(l.isOpen).toBe(false);
    }
    expect(texts).toEqual([
      "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'topic'",
      "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
      "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    ]);
  });

  it('ignores exchange arguments other than alternate-exchange, like RabbitMQ 3.10', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await a.assertExchange('x', 'topic', { durable: false, autoDelete: false });
    await a.assertExchange('x', 'topic', { durable: false, autoDelete: false, arguments: { foo: 1 } });
    expect(a.isOpen).toBe(true);
    await expect(
      a.assertExchange('x', 'topic', { durable: false, autoDelete: false, arguments: { 'alternate-exchange': 'ae' } }),
    ).rejects.toMatchObject({ code: 406 });
  });

  it('accepts redeclaring amq.* exchanges as they are but not creating new amq.* ones', async () => {
    const broker = newBroker();
    const a = connect(broker);
    await a.assertExchange('amq.topic', 'topic', { durable: true, autoDelete: false });
    await expect(a.assertExchange('amq.mine', 'topic', { durable: false, autoDelete: false })).rejects.toMatchObject({
      code: 403,
      message: "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'",
    });
  });

  it('rejects inequivalent queue redeclares with RabbitMQ texts', async () => {
    const broker = newBroker();
    const setup = connect(broker);
    await setup.assertQueue('q', { durable: false, autoDelete: false, arguments: { 'x-expires': 60000 } });
    const attempt = async (opts: Parameters<typeof setup.assertQueue>[1]): Promise<string> => {
      const l = connect(broker);
      const err = (await l.assertQueue('q', opts).catch((e: unknown) => e)) as MessagingError;
      expect(l.isOpen).toBe(false);
      return `${err.code} ${err.message}`;
    };
    const p = "for queue 'q' in vhost '/'";
    expect(await attempt({ durable: true, autoDelete: false, arguments: { 'x-expires': 60000 } })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'durable' ${p}: received 'true' but current is 'false'`,
    );
    expect(await attempt({ durable: false, autoDelete: true, arguments: { 'x-expires': 60000 } })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'auto_delete' ${p}: received 'true' but current is 'false'`,
    );
    expect(await attempt({ durable: false, autoDelete: false })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'x-expires' ${p}: received none but current is the value '60000' of type 'signedint'`,
    );
    expect(await attempt({ durable: false, autoDelete: false, arguments: { 'x-expires': 5000 } })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'x-expires' ${p}: received '5000' but current is '60000'`,
    );
    expect(await attempt({ durable: false, autoDelete: false, arguments: { 'x-expires': 60000, 'x-message-ttl': 5 } })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' ${p}: received the value '5' of type 'byte' but current is none`,
    );
    expect(await attempt({ durable: false, autoDelete: false, arguments: { 'x-expires': '60000' } })).toBe(
      `406 PRECONDITION_FAILED - inequivalent arg 'x-expires' ${p}: received '60000' but current is '60000'`,
    );
    expect(await attempt({ durable: false, autoDelete: false, exclusive: true, arguments: { 'x-expires': 60000 } })).toMatch(
      /^405 RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '\/'/,
    );
    // arguments RabbitMQ does not compare, and x-queue-type classic = absent, and integer widths are one class
    await setup.assertQueue('q', {
      durable: false,
      autoDelete: false,
      arguments: { 'x-expires': { '!': 'long', value: 60000 }, 'x-ha-policy': 'all', 'x-queue-type': 'classic' },
    });
    expect(setup.isOpen).toBe(true);
  });

  it('validates the queue arguments it acts on', async () => {
    const broker = newBroker();
    const cases: [Record<string, unknown>, string][] = [
      [{ 'x-expires': 0 }, "invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}"],
      [{ 'x-expires': -1 }, "invalid arg 'x-expires' for queue 'q' in vhost '/': {value_negative,-1}"],
      [{ 'x-message-ttl': 'abc' }, `invalid arg 'x-message-ttl' for queue 'q' in vhost '/': "expected integer, got longstr"`],
      [{ 'x-max-length': -1 }, "invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}"],
      [{ 'x-overflow': 'nope' }, "invalid arg 'x-overflow' for queue 'q' in vhost '/': invalid_overflow"],
    ];
    for (const [args, text] of cases) {
      const l = connect(broker);
      await expect(l.assertQueue('q', { ...transient, arguments: args })).rejects.toMatchObject({
        code: 406,
        message: `PRECONDITION_FAILED - ${text}`,
      });
    }
    const l = connect(broker);
    await expect(l.assertQueue('qq', { ...transient, arguments: { 'x-queue-type': 'quorum' } })).rejects.toMatchObject({
      message: "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'qq' in vhost '/'",
    });
    expect(broker.listQueues()).toEqual([]);
  });

  it('stores x-queue-type and behaves as a classic queue', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('qq', { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
    await l.publish('', 'qq', Buffer.from('x'), {});
    expect(broker.listQueues()[0]).toMatchObject({ arguments: { 'x-queue-type': 'quorum' }, messagesReady: 1 });
  });

  it('gives server-named queues and consumer tags, and refuses amq.* queue names', async () => {
    const broker = newBroker();
    const l = connect(broker);
    const info = await l.assertQueue('', { durable: false, autoDelete: false, exclusive: true });
    expect(info.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(info).toMatchObject({ messageCount: 0, consumerCount: 0 });
    const tag = await l.consume(info.queue, () => {});
    expect(tag).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/);
    expect(await l.consume(info.queue, () => {}, { consumerTag: '2' })).toBe('2');
    // redeclaring a server-named queue by name is refused, like RabbitMQ; the passive check works
    const other = connect(broker);
    await expect(l.checkQueue(info.queue)).resolves.toMatchObject({ queue: info.queue, consumerCount: 2 });
    await expect(l.assertQueue(info.queue, { durable: false, autoDelete: false, exclusive: true })).rejects.toMatchObject({
      code: 403,
    });
    await expect(other.assertQueue('amq.mine', transient)).rejects.toMatchObject({
      message: "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'",
    });
  });

  it('passive checks of missing entities reject with 404 but leave the link open', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await expect(l.checkQueue('nope')).rejects.toMatchObject({ code: 404, message: "NOT_FOUND - no queue 'nope' in vhost '/'" });
    await expect(l.checkExchange('nope')).rejects.toMatchObject({ code: 404, message: "NOT_FOUND - no exchange 'nope' in vhost '/'" });
    expect(l.isOpen).toBe(true);
    await l.assertQueue('q', transient);
    await l.publish('', 'q', Buffer.from('x'), {});
    await expect(l.checkQueue('q')).resolves.toEqual({ queue: 'q', messageCount: 1, consumerCount: 0 });
    await expect(l.checkExchange('amq.topic')).resolves.toBeUndefined();
  });

  it('binding to missing entities is a 404 that kills the link; unbinding and deleting missing ones succeed', async () => {
    const broker = newBroker();
    const l = connect(broker);
    await l.assertQueue('q', transient);
    await l.assertExchange('x', 'topic', transient);
    await l.unbindQueue('q', 'x', 'never-bound');
    await l.unbindQueue('nope', 'x', 'k');
    await l.unbindQueue('q', 'nope', 'k');
    await l.deleteQueue('nope');
    expect(l.isOpen).toBe(true);
    await expect(l.bindQueue('q', 'nope', 'k')).rejects.toMatchObject({ code: 404, message: "NOT_FOUND - no exchange 'nope' in vhost '/'" });
    expect(l.isOpen).toBe(false);
    const l2 = connect(broker);
    await expect(l2.bindQueue('nope', 'x', 'k')).rejects.toMatchObject({ code: 404, message: "NOT_FOUND - no queue 'nope' in vhost '/'" });
    const l3 = connect(broker);
    await expect(l3.consume('nope', () => {})).rejects.toMatchObject({ code: 404 });
    expect(l3.isOpen).toBe(false);
  });
});
