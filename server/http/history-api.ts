/**
 * The history endpoints (contract: lib/history-contracts.ts): search, a call's
 * story, one message, store status and stuck-call groups with acknowledgement.
 * Answers come from server/store/history.ts (the store and the tap's memory).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { describeFieldErrors, fieldErrors } from '../../lib/api-contracts.ts';
import { DEFAULT_TRANSPORT, searchQuerySchema, stuckGroupAckRequestSchema, stuckGroupsQuerySchema } from '../../lib/history-contracts.ts';
import type { Principal } from '../auth/session.ts';
import type { History } from '../store/history.ts';
import { StoreUnavailableError } from '../store/store.ts';
import { HttpError, readJson, sendData } from './respond.ts';

const MSG_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Was this record seen on that transport (records without a name are the `default` one's). */
function on(x: { transport?: string }, transport: string): boolean {
  return (x.transport ?? DEFAULT_TRANSPORT) === transport;
}

function parse<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const fields = fieldErrors(parsed.error);
    throw new HttpError(400, 'validation_failed', describeFieldErrors(fields), { fields });
  }
  return parsed.data as z.infer<S>;
}

function queryOf(url: URL, allowed: readonly string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) throw new HttpError(400, 'validation_failed', `Unknown query parameter ${k}; use ${allowed.join(', ')}`, { fields: { [k]: 'unknown parameter' } });
    raw[k] = v;
  }
  return raw;
}

async function guarded<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof StoreUnavailableError || /connect|ECONNREFUSED|database|SQLITE/i.test((err as Error).message)) {
      throw new HttpError(503, 'unavailable', `The history store cannot be read: ${(err as Error).message}`);
    }
    throw err;
  }
}

export class HistoryApi {
  constructor(private readonly history: History) {}

  /**
   * GET /api/search?q=&from=&to=&limit=&transport= — with a transport, only what was seen on it
   * (rows stored before transports were named count as `default`).
   */
  async search(res: ServerResponse, url: URL, transport: string | null = null): Promise<void> {
    const q = parse(searchQuerySchema, queryOf(url, ['q', 'from', 'to', 'limit', 'transport']));
    // the transport is a condition of the store's queries (a busy other transport cannot push matches past the limit);
    // the replies and heartbeats a request id brings along are checked here too
    const found = await guarded(() => this.history.search(q, transport));
    if (transport === null) return sendData(res, found);
    sendData(res, { ...found, calls: found.calls.filter((c) => on(c, transport)), messages: found.messages.filter((m) => on(m, transport)) });
  }

  /** GET /api/calls/<msgId>[?transport=] */
  async call(res: ServerResponse, msgId: string, transport: string | null = null): Promise<void> {
    if (!MSG_ID.test(msgId)) throw new HttpError(400, 'validation_failed', 'A msg_id is 1 to 200 letters, digits and _ . : -');
    const story = await guarded(() => this.history.callStory(msgId));
    if (!story || (transport !== null && !on(story.call, transport))) throw new HttpError(404, 'not_found', `No call with msg_id ${msgId} is stored or in memory${transport !== null ? ` for transport ${transport}` : ''}`);
    sendData(res, transport === null ? story : { ...story, messages: story.messages.filter((m) => on(m, transport)), related: story.related.filter((c) => on(c, transport)) });
  }

  /** GET /api/messages/<id>[?transport=] */
  async message(res: ServerResponse, id: string, transport: string | null = null): Promise<void> {
    if (!MSG_ID.test(id)) throw new HttpError(400, 'validation_failed', 'A message id is 1 to 200 letters, digits and _ . : -');
    const m = await guarded(() => this.history.message(id));
    if (!m || (transport !== null && !on(m, transport))) throw new HttpError(404, 'not_found', `No message with id ${id} is stored or in memory${transport !== null ? ` for transport ${transport}` : ''}`);
    sendData(res, m);
  }

  /** GET /api/history */
  async status(res: ServerResponse): Promise<void> {
    sendData(res, await this.history.status());
  }

  /** GET /api/stuck-groups?q=&acked=&from=&limit=&transport= (the transport a condition of the store's query) */
  async stuckGroups(res: ServerResponse, url: URL, transport: string | null = null): Promise<void> {
    const q = parse(stuckGroupsQuerySchema, queryOf(url, ['q', 'acked', 'from', 'limit', 'transport']));
    sendData(res, await guarded(() => this.history.stuckGroups(q, transport)));
  }

  /** POST /api/stuck-groups/ack {key, acked?} (operator role) */
  async ack(req: IncomingMessage, res: ServerResponse, principal: Principal | null): Promise<void> {
    if (principal && principal.role !== 'operator') throw new HttpError(403, 'forbidden', `User ${principal.name} is a viewer; acknowledging stuck calls needs the operator role`);
    const body = parse(stuckGroupAckRequestSchema, await readJson(req, 16 * 1024));
    if (!this.history.store) throw new HttpError(503, 'unavailable', 'Acknowledgements are kept in the history store, which is off (HISTORY=off)');
    const g = await guarded(() => this.history.ack(body.key, principal?.name ?? null, body.acked));
    if (!g) throw new HttpError(404, 'not_found', `No stuck-call group ${body.key}`);
    sendData(res, g);
  }
}
