/** `osloscope notify`: send one notification like oslo's Notifier. */
import { NOTIFICATION_PRIORITIES, type NotificationPriority } from '../../server/messaging/wire.ts';
import { Notifier, pyDumps, type Transport } from '../../server/messaging/index.ts';
import { EXIT, jsonObject, numberOption, openTransport, parse, reportError, required, UsageError, writeJson, type Io } from './common.ts';

export const NOTIFY_HELP = `usage: osloscope notify --publisher-id P --event-type E [options]

  --publisher-id P        e.g. compute.host1 (required)
  --event-type E          e.g. compute.instance.create.end (required)
  --priority P            ${NOTIFICATION_PRIORITIES.join('|')} (default info)
  --payload JSON          payload (default {})
  --context JSON          request context; only oslo's safe keys are sent
  --topic T               notification topic, repeatable (default notifications)
  --driver D              messagingv2 (enveloped, default) or messaging (v1)
  --retry N               connection attempts beyond the first (default 0)
  --url URL, --control-exchange X, --debug`;

const options = {
  'publisher-id': { type: 'string' },
  'event-type': { type: 'string' },
  priority: { type: 'string' },
  payload: { type: 'string' },
  context: { type: 'string' },
  topic: { type: 'string', multiple: true },
  driver: { type: 'string' },
  retry: { type: 'string' },
} as const;

export async function runNotifyCommand(argv: string[], io: Io): Promise<number> {
  let transport: Transport | undefined;
  try {
    const { values } = parse(argv, options);
    if (values.help) {
      io.stdout.write(`${NOTIFY_HELP}\n`);
      return EXIT.ok;
    }
    const publisherId = required(values['publisher-id'], 'publisher-id');
    const eventType = required(values['event-type'], 'event-type');
    const priority = (values.priority ?? 'info').toLowerCase();
    if (!(NOTIFICATION_PRIORITIES as readonly string[]).includes(priority)) {
      throw new UsageError(`--priority must be one of ${NOTIFICATION_PRIORITIES.join(', ')}`);
    }
    const driver = values.driver ?? 'messagingv2';
    if (driver !== 'messagingv2' && driver !== 'messaging') throw new UsageError('--driver must be messagingv2 or messaging');
    const payload = values.payload === undefined ? {} : jsonObject(values.payload, 'payload');
    const context = jsonObject(values.context, 'context');
    const retry = numberOption(values.retry, 'retry') ?? 0;
    transport = openTransport(values, io);
    const notifier = new Notifier(transport, { publisherId, driver, topics: values.topic ?? ['notifications'], retry });
    const sent = await notifier.notify(context, eventType, payload, priority as NotificationPriority);
    writeJson(io, { ok: true, message_id: sent.messageId, exchange: sent.exchange, routing_keys: sent.routingKeys }, pyDumps);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  } finally {
    await transport?.close();
  }
}
