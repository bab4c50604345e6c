/**
 * Who may do what, and the request checks that protect state-changing
 * requests: same origin (CSRF) and, with access control off, a loopback Host
 * header (DNS rebinding).
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from './session.ts';

export type Action = 'watch' | 'fire';

export type Decision = { ok: true } | { ok: false; status: number; code: string; message: string };

export function permits(principal: Principal | null, action: Action, readOnly: boolean): Decision {
  if (!principal) return { ok: false, status: 401, code: 'unauthenticated', message: 'Log in to use osloscope' };
  if (action === 'watch') return { ok: true };
  if (readOnly) return { ok: false, status: 403, code: 'read_only', message: 'osloscope runs read-only (READ_ONLY=1): firing messages is disabled' };
  if (principal.role !== 'operator') {
    return { ok: false, status: 403, code: 'forbidden', message: `User ${principal.name} is a viewer; firing messages needs the operator role` };
  }
  return { ok: true };
}

function hostHeaderOrigins(req: IncomingMessage): string[] {
  const host = req.headers.host;
  if (!host) return [];
  return [`http://${host}`, `https://${host}`];
}

/**
 * A browser always sends Origin on cross-origin requests (and on same-origin
 * POSTs); a request with neither Origin nor a cross-site Sec-Fetch-Site comes
 * from a non-browser client (curl, the CLI), which cannot be a CSRF vector.
 */
export function checkSameOrigin(req: IncomingMessage, allowedOrigins: readonly string[]): Decision {
  const origin = req.headers.origin;
  const fetchSite = req.headers['sec-fetch-site'];
  if (origin === undefined || origin === '') {
    if (typeof fetchSite === 'string' && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      return { ok: false, status: 403, code: 'cross_origin', message: `Cross-site request refused (Sec-Fetch-Site: ${fetchSite})` };
    }
    return { ok: true };
  }
  if (hostHeaderOrigins(req).includes(origin) || allowedOrigins.includes(origin)) return { ok: true };
  return { ok: false, status: 403, code: 'cross_origin', message: `Request from origin ${origin} refused; only same-origin requests may change state (see ALLOWED_ORIGINS)` };
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** With access control off, only loopback Host headers (or ALLOWED_ORIGINS hosts): defeats DNS rebinding. */
export function checkLoopbackHost(req: IncomingMessage, allowedOrigins: readonly string[]): Decision {
  const host = req.headers.host ?? '';
  if (LOOPBACK_HOST.test(host)) return { ok: true };
  if (allowedOrigins.some((o) => new URL(o).host === host)) return { ok: true };
  return { ok: false, status: 421, code: 'bad_host', message: `Host ${host || '(none)'} is not served; osloscope without access control answers only loopback names` };
}
