/**
 * The audit log: one JSON line per fired or replayed message (who, when,
 * from where, target, method, outcome), appended to AUDIT_LOG. The file is
 * opened in append mode only, never truncated or rewritten; each line is
 * written with a single write so concurrent fires never interleave.
 *
 * Arguments and context are not logged (they may hold secrets); the msg_id
 * ties an entry to the traffic the tap saw.
 */
import { mkdirSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RpcOutcome, RpcType } from '../../lib/api-contracts.ts';

export interface AuditEntry {
  at: string;
  user: string;
  role: string;
  remote: string | null;
  action: 'fire' | 'replay';
  type: RpcType;
  target: { exchange: string; topic: string; server: string | null; namespace: string | null; version: string | null };
  method: string;
  outcome: RpcOutcome;
  /** error code / remote exception class when not ok */
  error: string | null;
  msgId: string | null;
  elapsedMs: number;
  replayOf: string | null;
}

export class AuditLog {
  private fd: number | null = null;

  constructor(readonly path: string) {}

  /** Open (creating directories) now, so a bad AUDIT_LOG path stops start-up instead of the first fire. */
  open(): void {
    if (this.fd !== null) return;
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a', 0o600);
  }

  write(entry: AuditEntry): void {
    if (this.fd === null) this.open();
    writeSync(this.fd as number, `${JSON.stringify(entry)}\n`);
  }

  close(): void {
    if (this.fd === null) return;
    try {
      fsyncSync(this.fd);
    } catch {
      // not every file system supports fsync
    }
    closeSync(this.fd);
    this.fd = null;
  }
}
