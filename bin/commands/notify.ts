/** `osloscope notify`: send one notification like oslo's Notifier. */
import { Notifier, pyDumps, wire, type Transport } from '../../server/messaging/index.ts';
import { DEFAULT_URL, EXIT, jsonObject, numberOption, openTransport, parse, reportError, required, UsageError, writeJson, type Io } from './common.ts';
import { CONFIG_FILE_HELP, cliSettings, writeConfigNotes } from './config-files.ts';

export const NOTIFY_HELP = `usage: osloscope notify --publisher-id P --event-type E [options]

  --publisher-id P        e.g. compute.host1 (required)
  --event-type E          e.g. compute.instance.create.end (required)
  --priority P            ${wire.NOTIFICATION_PRIORITIES.join('|')} (default info)
  --payload JSON          payload (default {})
  --context JSON          request context; only oslo's safe keys are sent
  --topic T               notification topic, repeatable (default: the files' topics, else notifications)
  --driver D              messagingv2 (enveloped, default) or messaging (v1)
  --retry N               connection attempts beyond the first (default: the files' retry if not -1, else 0)
  --url URL, --control-exchange X, --debug
${CONFIG_FILE_HELP}
  The files' [oslo_messaging_notifications] transport_url, driver, topics and retry apply
  (transport_url there before [DEFAULT] transport_url, as in oslo.messaging).`;

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
    if (!(wire.NOTIFICATION_PRIORITIES as readonly string[]).includes(priority)) {
      throw new UsageError(`--priority must be one of ${wire.NOTIFICATION_PRIORITIES.join(', ')}`);
    }
    const settings = cliSettings(values, io.env, DEFAULT_URL, { notifications: true });
    writeConfigNotes(settings, io.stderr);
    const fromFiles = settings.files?.notifications ?? {};
    const driver = values.driver ?? fileDriver(fromFiles.driver);
    if (driver !== 'messagingv2' && driver !== 'messaging') throw new UsageError('--driver must be messagingv2 or messaging');
    const topics = values.topic ?? fromFiles.topics ?? ['notifications'];
    if (topics.length === 0) throw new UsageError('the configuration files set [oslo_messaging_notifications] topics to nothing; pass --topic');
    const payload = values.payload === undefined ? {} : jsonObject(values.payload, 'payload');
    const context = jsonObject(values.context, 'context');
    // oslo's retry -1 (forever) from a file is not taken: the CLI stays bounded
    const retry = numberOption(values.retry, 'retry') ?? (fromFiles.retry !== undefined && fromFiles.retry >= 0 ? fromFiles.retry : 0);
    transport = openTransport(values, io, { settings });
    const notifier = new Notifier(transport, { publisherId, driver, topics, retry });
    const sent = await notifier.notify(context, eventType, payload, priority as wire.NotificationPriority);
    writeJson(io, { ok: true, message_id: sent.messageId, exchange: sent.exchange, routing_keys: sent.routingKeys }, pyDumps);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  } finally {
    await transport?.close();
  }
}

/**
 * The driver a service with these `[oslo_messaging_notifications] driver`
 * values would send over the broker with (notify/notifier.py loads every one;
 * messagingv2 and messaging are the ones that publish to RabbitMQ).
 */
function fileDriver(drivers: string[] | undefined): string {
  if (drivers === undefined || drivers.length === 0) return 'messagingv2';
  if (drivers.includes('messagingv2')) return 'messagingv2';
  if (drivers.includes('messaging')) return 'messaging';
  throw new UsageError(
    `the configuration files set [oslo_messaging_notifications] driver = ${drivers.join(', ')}, none of which sends over the broker; pass --driver messagingv2`,
  );
}
