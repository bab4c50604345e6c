/**
 * fetch wrappers for the custom server's API: unwrap `{ok:true,data}`,
 * turn `{ok:false,error}` into an ApiRequestError, send the user to the login
 * page when the session is gone.
 */
import type { ApiError } from '@/lib/api-contracts';

/**
 * The sub-path osloscope is served under (BASE_PATH, e.g. /osloscope), '' at the root. Next bakes it into
 * the build (next.config.js); next/link and the router add it themselves, fetches and
 * window.location need it here.
 */
export const BASE_PATH = process.env.NEXT_PUBLIC_BASE_PATH ?? '';

/** An app path ('/api/status', '/login') as the browser must ask for it. */
export function withBase(path: string): string {
  if (path === '/' && BASE_PATH) return BASE_PATH;
  return path.startsWith('/') ? `${BASE_PATH}${path}` : path;
}

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiError,
  ) {
    super(error.message);
    this.name = 'ApiRequestError';
  }
}

function toLogin(): void {
  if (typeof window === 'undefined' || window.location.pathname === withBase('/login')) return;
  // `next` is the browser's path, base path included
  const next = encodeURIComponent(window.location.pathname + window.location.search);
  window.location.assign(withBase(`/login?next=${next}`));
}

async function parse(res: Response): Promise<{ ok: true; data: unknown } | { ok: false; error: ApiError }> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { ok: false, error: { code: 'internal', message: `The server answered ${res.status} without JSON` } };
  }
  if (body && typeof body === 'object' && 'ok' in body) return body as { ok: true; data: unknown } | { ok: false; error: ApiError };
  return { ok: false, error: { code: 'internal', message: `Unexpected answer from the server (${res.status})` } };
}

export async function apiGet<T>(path: string): Promise<T> {
  const res = await fetch(withBase(path), { credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = await parse(res);
  if (!body.ok) {
    if (res.status === 401) toLogin();
    throw new ApiRequestError(res.status, body.error);
  }
  return body.data as T;
}

/** POST JSON; resolves with the whole envelope (callers show `ok:false` answers such as remote errors). */
export async function apiPostRaw<T>(path: string, payload: unknown): Promise<{ status: number; body: { ok: true; data: T } | { ok: false; error: ApiError } }> {
  let res: Response;
  try {
    res = await fetch(withBase(path), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(payload),
    });
  } catch (err) {
    return { status: 0, body: { ok: false, error: { code: 'unavailable', message: `osloscope cannot be reached: ${(err as Error).message}` } } };
  }
  const body = (await parse(res)) as { ok: true; data: T } | { ok: false; error: ApiError };
  if (!body.ok && res.status === 401) toLogin();
  return { status: res.status, body };
}

export async function apiPost<T>(path: string, payload: unknown): Promise<T> {
  const { status, body } = await apiPostRaw<T>(path, payload);
  if (!body.ok) throw new ApiRequestError(status, body.error);
  return body.data;
}

export async function apiDelete(path: string): Promise<void> {
  await fetch(withBase(path), { method: 'DELETE', credentials: 'same-origin' });
}
