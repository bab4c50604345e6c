/**
 * `osloscope tap --pretty`: one readable line per message for a terminal
 * (time, kind, target, method, request id, size), and a summary when the
 * tap stops (counts per kind, top methods, undecodable bodies).
 *
 * Messages reach here already redacted by the tap; the few free-text parts
 * printed (failure class, undecodable reason) go through redactText again,
 * as every output path does (server/tap/redact.ts).
 */
import type { DecodedMessage } from '../../lib/tap-contracts.ts';
import { redactText } from '../../server/tap/index.ts';

const ANSI = { reset: '\u001b[0m', dim: '\u001b[2m', bold: '\u001b[1m', red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', blue: '\u001b[34m', magenta: '\u001b[35m', cyan: '\u001b[36m' } as const;
type Colour = keyof typeof ANSI;

const KIND_COLOUR: Record<string, Colour> = { call: 'cyan', cast: 'blue', fanout: 'magenta', reply: 'green', heartbeat: 'dim', notification: 'yellow', unknown: 'red' };

/** Colours only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour(stdout: NodeJS.WritableStream, env: NodeJS.ProcessEnv | undefined): boolean {
  if (env?.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return (stdout as NodeJS.WriteStream).isTTY === true;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`;
}

function clock(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Where the message went, as an operator names it. */
export function targetOf(m: DecodedMessage): string {
  switch (m.kind) {
    case 'call':
    case 'cast':
      return m.topic ? (m.server ? `${m.topic}.${m.server}` : m.topic) : m.routingKey;
    case 'fanout':
      return m.topic ? `${m.topic} (fanout)` : m.routingKey;
    case 'notification':
      return m.publisherId ? `${m.publisherId} → ${m.routingKey}` : m.routingKey;
    default:
      return m.routingKey || m.exchange;
  }
}

/** What the message does: the method, a notification's event type, a reply's msg id. */
export function actionOf(m: DecodedMessage): string {
  if (m.kind === 'notification') return m.eventType ?? '-';
  if (m.kind === 'reply' || m.kind === 'heartbeat') return m.msgId ? `msg ${m.msgId.slice(0, 8)}` : '-';
  return m.method ?? '-';
}

export function prettyLine(m: DecodedMessage, colour: boolean): string {
  const paint = (c: Colour, s: string): string => (colour ? `${ANSI[c]}${s}${ANSI.reset}` : s);
  const parts = [
    paint('dim', clock(m.ts)),
    paint(KIND_COLOUR[m.kind] ?? 'reset', clip(m.kind, 12)),
    clip(targetOf(m), 36),
    paint('bold', clip(actionOf(m), 28)),
    clip(m.requestId ?? '-', 40),
    formatBytes(m.bytes).padStart(9),
  ];
  let tail = '';
  if (m.failure) tail += ` ${paint('red', `! ${redactText(m.failure.class ?? 'failure')}`)}`;
  if (m.error) tail += ` ${paint('red', `undecodable: ${redactText(m.error).slice(0, 200)}`)}`;
  if (m.truncatedBytes !== undefined) tail += ` ${paint('dim', `(cut from ${formatBytes(m.truncatedBytes)})`)}`;
  return `${parts.join('  ')}${tail}`;
}

/** Counts kept while the tap prints; bounded (top methods keep at most MAX_METHODS names). */
export class TapSummary {
  static readonly MAX_METHODS = 1000;
  readonly started: number;
  total = 0;
  undecodable = 0;
  failures = 0;
  bytes = 0;
  readonly byKind = new Map<string, number>();
  readonly byMethod = new Map<string, number>();
  otherMethods = 0;

  constructor(now: number = Date.now()) {
    this.started = now;
  }

  add(m: DecodedMessage): void {
    this.total++;
    this.bytes += m.bytes;
    this.byKind.set(m.kind, (this.byKind.get(m.kind) ?? 0) + 1);
    if (m.error) this.undecodable++;
    if (m.failure) this.failures++;
    const method = m.kind === 'notification' ? m.eventType : m.kind === 'call' || m.kind === 'cast' || m.kind === 'fanout' ? m.method : null;
    if (method) {
      const key = `${m.topic ?? '?'} ${method}`;
      if (this.byMethod.has(key) || this.byMethod.size < TapSummary.MAX_METHODS) this.byMethod.set(key, (this.byMethod.get(key) ?? 0) + 1);
      else this.otherMethods++;
    }
  }

  render(now: number = Date.now(), opts: { top?: number; skipped?: number } = {}): string {
    const seconds = Math.max(0, (now - this.started) / 1000);
    const lines = [`-- ${this.total} message(s) in ${seconds.toFixed(1)} s, ${formatBytes(this.bytes)}`];
    const kinds = [...this.byKind.entries()].sort((a, b) => b[1] - a[1]);
    lines.push(`   by kind: ${kinds.length ? kinds.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`);
    const top = [...this.byMethod.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, opts.top ?? 5);
    if (top.length > 0) {
      lines.push('   top methods:');
      const w = Math.max(...top.map(([, n]) => String(n).length));
      for (const [k, n] of top) lines.push(`     ${String(n).padStart(w)}  ${k}`);
    }
    lines.push(`   undecodable: ${this.undecodable}; remote failures: ${this.failures}${opts.skipped ? `; not printed (stdout too slow): ${opts.skipped}` : ''}`);
    return `${lines.join('\n')}\n`;
  }
}
