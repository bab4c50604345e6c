/**
 * Firing RPCs for the Console, replays and POST /api/rpc: one RpcClient
 * call / cast / fanout through the dashboard's transport, mapped to the API's
 * reply, written to the audit log and to a short in-memory history.
 */
import { randomUUID } from 'node:crypto';
import {
  BrokerRefusal,
  InvalidTarget,
  MessageDeliveryFailure,
  MessageUndeliverable,
  MessagingTimeout,
  refusalIn,
  RemoteError,
  RpcClient,
  SerializationError,
  type Logger,
  type Transport,
} from '../messaging/index.ts';
import type { ApiError, FireRecord, RpcOutcome, RpcRequest, RpcSuccess } from '../../lib/api-contracts.ts';
import type { Principal } from '../auth/session.ts';
import type { AuditLog } from './audit-log.ts';
import { RpcClientMetrics } from './metrics.ts';

export type FireResult = { ok: true; data: RpcSuccess } | { ok: false; status: number; error: ApiError };

export interface FireServiceOptions {
  /** the default transport (the only one, or the first of TRANSPORT_URLS) */
  transport: Transport;
  /** every named transport (a fleet): a request's `transport` picks one; the API checks the name first */
  transports?: ReadonlyMap<string, Transport>;
  audit: AuditLog;
  log: Logger;
  /** redaction applied to what the caller and the history get (args, context, results, remote errors) */
  redact: (value: unknown) => unknown;
  /** `<prog>:<pid>` label of osloscope's own client metrics */
  process: string;
  historySize?: number;
}

export class FireService {
  readonly metrics = new RpcClientMetrics();
  private readonly recent: FireRecord[] = [];
  private readonly historySize: number;

  constructor(private readonly o: FireServiceOptions) {
    this.historySize = o.historySize ?? 200;
  }

  /** Newest first. */
  history(): FireRecord[] {
    return [...this.recent];
  }

  async fire(req: RpcRequest, who: Principal, remote: string | null): Promise<FireResult> {
    const transport = (req.transport !== undefined ? this.o.transports?.get(req.transport) : undefined) ?? this.o.transport;
    const exchange = req.target.exchange ?? transport.conf.control_exchange;
    const target = {
      exchange: req.target.exchange ?? null,
      topic: req.target.topic,
      server: req.type === 'fanout' ? null : (req.target.server ?? null),
      namespace: req.target.namespace ?? null,
      version: req.target.version ?? null,
      fanout: req.type === 'fanout',
    };
    const client = new RpcClient(transport, target, {
      timeout: req.timeout ?? null,
      callMonitorTimeout: req.callMonitorTimeout ?? null,
      // a fire from the dashboard must not hang forever when the broker is down
      retry: 2,
    });
    const labels = {
      call_type: req.type === 'call' ? 'call' : 'cast',
      exchange,
      topic: req.target.topic,
      namespace: target.namespace ?? 'None',
      version: target.version ?? 'None',
      server: target.server ?? 'None',
      fanout: target.fanout ? 'True' : 'False',
      process: this.o.process,
      method: req.method,
      timeout: req.type === 'call' ? String(req.timeout ?? transport.conf.rpc_response_timeout) : 'None',
    };
    this.metrics.start.inc(labels);
    const started = performance.now();
    const ctxt = req.context ?? {};
    let result: FireResult;
    try {
      if (req.type === 'call') {
        const r = await client.callDetailed(ctxt, req.method, req.args);
        result = {
          ok: true,
          data: { type: 'call', result: this.o.redact(r.result), msgId: r.msgId, exchange: r.info.exchange, routingKey: r.info.routingKey, elapsedMs: round(r.elapsedMs), fireId: '' },
        };
      } else {
        const info = await client.cast(ctxt, req.method, req.args);
        result = {
          ok: true,
          data: { type: req.type, result: null, msgId: null, exchange: info.exchange, routingKey: info.routingKey, elapsedMs: round(performance.now() - started), fireId: '' },
        };
      }
    } catch (err) {
      const failed = this.failure(err, performance.now() - started);
      // A remote service's failure message and traceback are its data and may quote the secrets it was
      // handed (nova's "password=…", a keystone token): redacted before the caller, the history (which
      // viewers read) or the log see them.
      result = { ...failed, error: this.o.redact(failed.error) as ApiError };
      if (result.error.code === 'internal') this.o.log.error({ err: this.o.redact((err as Error).message), name: (err as Error).name }, 'firing a message failed unexpectedly');
      this.metrics.exceptions.inc({ ...labels, exception: result.error.class ?? (err as Error).name ?? 'Error' });
    }
    const elapsedMs = result.ok ? result.data.elapsedMs : (result.error.elapsedMs ?? round(performance.now() - started));
    this.metrics.end.inc(labels);
    this.metrics.seconds.observe(labels, elapsedMs / 1000);

    const id = randomUUID();
    if (result.ok) result.data.fireId = id;
    const outcome: RpcOutcome = result.ok ? 'ok' : result.error.code === 'remote_error' ? 'remote_error' : result.error.code === 'timeout' ? 'timeout' : 'error';
    const msgId = result.ok ? result.data.msgId : (result.error.msgId ?? null);
    const auditTarget = { exchange: target.fanout ? `${req.target.topic}_fanout` : exchange, topic: req.target.topic, server: target.server, namespace: target.namespace, version: target.version };
    this.o.audit.write({
      at: new Date().toISOString(),
      user: who.name,
      role: who.role,
      remote,
      action: req.replayOf ? 'replay' : 'fire',
      type: req.type,
      target: auditTarget,
      method: req.method,
      outcome,
      error: result.ok ? null : (result.error.class ?? result.error.code),
      msgId,
      elapsedMs,
      replayOf: req.replayOf ?? null,
    });
    this.remember({
      id,
      at: Date.now(),
      user: who.name,
      type: req.type,
      target: auditTarget,
      method: req.method,
      args: this.o.redact(req.args),
      context: this.o.redact(ctxt),
      timeout: req.timeout ?? null,
      callMonitorTimeout: req.callMonitorTimeout ?? null,
      replayOf: req.replayOf ?? null,
      outcome,
      msgId,
      elapsedMs,
      result: result.ok ? result.data.result : undefined,
      error: result.ok ? null : result.error,
      ...(req.transport !== undefined ? { transport: req.transport } : {}),
    });
    return result;
  }

  private remember(r: FireRecord): void {
    this.recent.unshift(r);
    if (this.recent.length > this.historySize) this.recent.length = this.historySize;
  }

  /** Map a core error to the API's error reply. */
  private failure(err: unknown, elapsed: number): { ok: false; status: number; error: ApiError } {
    const elapsedMs = round(elapsed);
    const msgId = (err as { msgId?: string }).msgId;
    if (err instanceof RemoteError) {
      return {
        ok: false,
        status: 502,
        error: {
          code: 'remote_error',
          message: `${err.excType}: ${err.value}`,
          class: err.excType,
          module: err.module,
          traceback: err.traceback,
          ...(msgId ? { msgId } : {}),
          elapsedMs,
        },
      };
    }
    if (err instanceof MessagingTimeout) {
      return { ok: false, status: 504, error: { code: 'timeout', message: err.message, class: 'MessagingTimeout', module: 'oslo_messaging.exceptions', ...(msgId ? { msgId } : {}), elapsedMs } };
    }
    if (err instanceof MessageUndeliverable) {
      return { ok: false, status: 502, error: { code: 'undeliverable', message: `No queue is bound for ${err.routingKey} on exchange ${err.exchange}`, class: 'MessageUndeliverable', elapsedMs } };
    }
    const refusal = refusalIn(err);
    if (refusal) return { ok: false, status: 422, error: refusedError(refusal, elapsedMs) };
    if (err instanceof MessageDeliveryFailure) {
      return { ok: false, status: 503, error: { code: 'unavailable', message: `The broker cannot be reached: ${err.message}`, class: err.name, elapsedMs } };
    }
    if (err instanceof InvalidTarget) {
      return { ok: false, status: 400, error: { code: 'invalid_target', message: err.message, elapsedMs } };
    }
    if (err instanceof SerializationError) {
      return { ok: false, status: 400, error: { code: 'validation_failed', message: err.message, elapsedMs } };
    }
    return { ok: false, status: 500, error: { code: 'internal', message: 'The message could not be sent (internal error; see the server log)', elapsedMs } };
  }
}

/**
 * The broker refused the target (406 an exchange or queue declared with
 * other flags, 403 an internal exchange or missing permission, 404 a
 * missing exchange, 530 NOT_ALLOWED, 541 a denied deprecated feature): the
 * request cannot succeed as sent, so a 4xx with the broker's own text, which
 * names the entity and the argument at fault.
 */
function refusedError(refusal: BrokerRefusal, elapsedMs: number): ApiError {
  return { code: 'refused', message: `The broker refused it (${refusal.code}): ${refusal.replyText}`, class: 'BrokerRefusal', elapsedMs };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
