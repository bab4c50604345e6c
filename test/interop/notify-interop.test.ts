/**
 * Notifications across languages: Python Notifier → osloscope listener and
 * osloscope Notifier → Python listener, v1 (`messaging`) and v2
 * (`messagingv2`) bodies, pool and pool-less queues.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { NotificationListener, Notifier, Transport, type NotificationMessage } from '../../server/messaging/index.ts';
import { osloscopeLayoutOptions, pythonAvailable, pythonOsloAtLeast, RABBIT_URL, startPeer, stopAllPeers } from './python-peer.ts';
import { eventually, uniqueName } from '../support/brokers.ts';

const available = await pythonAvailable();
if (!available && process.env.CI) throw new Error('Python oslo.messaging is required for interop tests in CI');
const d = available ? describe : describe.skip;

d('notifications between Python and osloscope', () => {
  const transports: Transport[] = [];
  const open = (exchange: string) => {
    // configured like the services (TEST_PEER_LAYOUT): its listeners may declare the notification queues first
    const t = new Transport(RABBIT_URL, { conf: { control_exchange: exchange }, rabbit: osloscopeLayoutOptions(), programName: 'interop-notify' });
    transports.push(t);
    return t;
  };

  afterAll(async () => {
    await stopAllPeers();
    await Promise.all(transports.map((t) => t.close()));
  });

  it('Python notifier (v1 and v2) → osloscope listeners with and without a pool', async () => {
    const exchange = uniqueName('nx');
    const topic = uniqueName('notifications');
    const t = open(exchange);
    const got: { who: string; m: NotificationMessage }[] = [];
    const endpoint = (who: string) => ({
      info: (ctxt: Record<string, unknown>, publisher_id: unknown, event_type: unknown, payload: unknown, metadata: NotificationMessage['metadata']) => {
        got.push({ who, m: { ctxt, publisher_id, event_type, payload, metadata, priority: 'info' } });
      },
    });
    const plain = new NotificationListener(t, [{ topic }], [endpoint('plain')]);
    const pooled = new NotificationListener(t, [{ topic }], [endpoint('pool')], { pool: `pool-${topic}` });
    await plain.start(0);
    await pooled.start(0);
    const py = await startPeer('notify', ['--exchange', exchange]);
    try {
      for (const driver of ['messagingv2', 'messaging'] as const) {
        const r = await py.notify({
          driver,
          topics: [topic],
          publisher_id: 'compute.host1',
          event_type: 'compute.instance.create.end',
          priority: 'info',
          payload: { instance_id: 'abc', driver, name: 'é' },
          ctxt: { user_id: 'u1', request_id: 'req-1', auth_token: 'SECRET' },
        });
        expect(r.ok).toBe(true);
      }
      await eventually(() => got.length === 4, 'two messages on each listener');
      for (const who of ['plain', 'pool']) {
        const mine = got.filter((g) => g.who === who).map((g) => g.m);
        expect(mine.map((m) => (m.payload as { driver: string }).driver).sort()).toEqual(['messaging', 'messagingv2']);
        for (const m of mine) {
          expect(m).toMatchObject({ publisher_id: 'compute.host1', event_type: 'compute.instance.create.end' });
          expect((m.payload as { name: string }).name).toBe('é');
          // oslo 14.0.3 _sanitize_context drops auth_token and keeps the other keys;
          // from 14.7.0 (notify/notifier.py _sanitize_context, docs/wire.md#notifications)
          // a plain-dict context is discarded whole: no _context_* keys at all
          expect(m.ctxt).toEqual(pythonOsloAtLeast('14.7.0') ? {} : { user_id: 'u1', request_id: 'req-1' });
          expect(m.metadata.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
        }
      }
    } finally {
      await plain.stop();
      await pooled.stop();
    }
  });

  it('osloscope notifier (v1 and v2) → Python listeners in two pools', async () => {
    const exchange = uniqueName('nx');
    const topic = uniqueName('notifications');
    const [a, b] = await Promise.all([
      startPeer('notify-listener', ['--exchange', exchange, '--targets', topic, '--pool', `a-${topic}`, '--priorities', 'info,error']),
      startPeer('notify-listener', ['--exchange', exchange, '--targets', topic, '--pool', `b-${topic}`, '--priorities', 'info,error']),
    ]);
    const t = open(exchange);
    const v2 = new Notifier(t, { publisherId: 'scheduler.host2', topics: [topic] });
    const v1 = new Notifier(t, { publisherId: 'scheduler.host2', topics: [topic], driver: 'messaging' });
    await v2.info({ user_id: 'u2', request_id: 'req-2' }, 'scheduler.select_destinations.end', { n: 1, s: '中' });
    await v1.error({ user_id: 'u2' }, 'scheduler.select_destinations.error', { n: 2 });
    for (const peer of [a, b]) {
      const info = await peer.waitFor((e) => e.event === 'notification' && e.priority === 'info');
      expect(info).toMatchObject({
        publisher_id: 'scheduler.host2',
        event_type: 'scheduler.select_destinations.end',
        payload: { n: 1, s: '中' },
        ctxt: { user_id: 'u2', request_id: 'req-2' },
      });
      expect((info.metadata as { message_id: string }).message_id).toMatch(/^[0-9a-f-]{36}$/);
      const error = await peer.waitFor((e) => e.event === 'notification' && e.priority === 'error');
      expect(error).toMatchObject({ event_type: 'scheduler.select_destinations.error', payload: { n: 2 } });
    }
  });
});
