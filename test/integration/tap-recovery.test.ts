/**
 * Issue #8 item 1 on the real broker: after a connection loss, re-binding the tap's queue to an
 * exchange that vanished meanwhile answered `404 NOT_FOUND - no exchange '<topic>_fanout'`, closed
 * the channel and ended recovery for good (the tap stayed `recovering`). The vanished exchange is
 * deleted between the cut and the reconnect by deleting it while the tap is still bound (RabbitMQ
 * drops the binding with it, the tap's link still records it) and then closing the tap's
 * connection from the management API: the replay meets exactly that 404. What must hold:
 * the tap consumes again (default retry policy, no test shortcut) within the 2 s target of losing its
 * connection, counts the skipped step, binds the exchange again as soon as a peer re-declares it, and
 * sees its traffic.
 */
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transport } from '../../server/messaging/index.ts';
import { Tap } from '../../server/tap/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';

const available = await managementAvailable();
if (!available && process.env.CI) throw new Error('RabbitMQ management API not reachable at ' + TEST_MANAGEMENT_URL);

const body = (method: string, value: string) => Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify({ method, args: { value } }) }));

describe.skipIf(!available)('tap recovery on RabbitMQ: a vanished exchange does not end it', () => {
  let vh: TestVhost;
  let amqp: ChannelModel;
  let ch: Channel;
  let transport: Transport;
  let tap: Tap;

  beforeAll(async () => {
    vh = await createTestVhost('osloscope-tap-recovery');
    amqp = await amqplib.connect(vh.amqpUrl);
    ch = await amqp.createChannel();
    await ch.assertExchange('openstack', 'topic', { durable: false, autoDelete: false });
    // a service's fanout exchange, as oslo declares it (auto-delete: gone with its last binding)
    await ch.assertExchange('svc_fanout', 'fanout', { durable: false, autoDelete: true });
    const own = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(own.queue, 'svc_fanout', '');
    // oslo's own retry policy (rabbit_retry_interval 1 s, +2 s, kombu_reconnect_delay 1 s): what users run
    transport = new Transport(vh.url, { programName: 'osloscope-recovery' });
    tap = new Tap({
      transport,
      mode: 'bindings',
      managementUrl: TEST_MANAGEMENT_URL,
      // discovery far away: re-binding after recovery must not wait for it
      intervals: { tickMs: 200, discoveryMs: 600_000, modeCheckMs: 600_000, rebuildAfterMs: 3000 },
    });
    await tap.start();
    await waitFor(() => tap.status().fanoutExchanges.includes('svc_fanout') && tap.status().tappedExchanges.includes('openstack'), 'svc_fanout and openstack bound');
  });

  afterAll(async () => {
    await tap?.stop();
    await transport?.close();
    await amqp?.close().catch(() => undefined);
    await vh?.remove();
  });

  it('skips the 404 on re-bind, consumes again within 2 s, and binds the exchange again once it is back', async () => {
    ch.publish('svc_fanout', '', body('before', 'b'));
    await waitFor(() => tap.recent({ filter: 'method:before' }).length === 1, 'the fanout seen before the cut');

    // the exchange vanishes: RabbitMQ drops the tap's binding with it, the tap's link still records it
    await ch.deleteExchange('svc_fanout');
    const name = transport.status().links.find((l) => l.purpose === 'listen' && l.state === 'connected')?.name;
    expect(name).toBeTruthy();
    // the cut as the tap sees it (the management API's close itself can take seconds on a loaded machine)
    let cutAt = 0;
    const off = transport.events.on((e) => {
      if (e.type === 'connection:state' && e.connection === name && e.state === 'disconnected' && !cutAt) cutAt = Date.now();
    });
    expect(await vh.killConnections([name!])).toBe(1);
    await waitFor(() => tap.status().state === 'recovering', 'the tap notices the cut', 10_000, 5);

    // consuming again: the tap's (new) queue has a consumer and traffic on openstack reaches it
    const back = await waitFor(
      async () => {
        if (tap.status().state !== 'running') return null;
        ch.publish('openstack', 'svc', body('after', String(Date.now())));
        await new Promise((r) => setTimeout(r, 20));
        return tap.recent({ filter: 'method:after' }).length > 0 ? Date.now() : null;
      },
      'traffic seen again after the cut',
      15_000,
      20,
    );
    off();
    expect(cutAt).toBeGreaterThan(0);
    const recoveredMs = back - cutAt;
    console.log(`tap recovery after a connection kill with a vanished exchange: ${recoveredMs} ms to the first consumed message`);
    expect(recoveredMs).toBeLessThan(2000);
    const st = tap.status();
    expect(st.state).toBe('running');
    expect(st.error).toBeNull();
    expect(st.recovery).toMatchObject({ reconnects: 1, rebuilds: 0, skipped: 1, awaiting: ['svc_fanout'] });
    expect(st.fanoutExchanges).not.toContain('svc_fanout');

    // the service comes back and declares its fanout exchange again: bound within the re-bind interval
    await ch.assertExchange('svc_fanout', 'fanout', { durable: false, autoDelete: true });
    await waitFor(() => tap.status().fanoutExchanges.includes('svc_fanout'), 'svc_fanout bound again', 5000, 20);
    expect(tap.status().recovery?.awaiting).toEqual([]);
    ch.publish('svc_fanout', '', body('again', 'a'));
    await waitFor(() => tap.recent({ filter: 'method:again' }).length === 1, 'the fanout seen after it came back');
  });
});
