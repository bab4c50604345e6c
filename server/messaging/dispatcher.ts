/**
 * rpc/dispatcher.py RPCDispatcher: pick the endpoint for a request by
 * namespace and version, refuse hidden methods, and fail exactly as the
 * Python dispatcher does (NoSuchMethod / UnsupportedVersion).
 */
import { ExpectedFailure, NoSuchMethod, UnsupportedVersion } from './errors.ts';
import type { Dict } from './envelope.ts';
import { versionIsCompatible } from './target.ts';
import { PING_METHOD } from './wire.ts';

export interface EndpointTarget {
  namespace?: string | null;
  version?: string | null;
  legacyNamespaces?: string[];
}

export type EndpointMethod = (ctxt: Dict, args: Dict) => unknown;

/**
 * An endpoint is any object whose methods take `(ctxt, args)`; an optional
 * `target` gives its namespace and version (oslo: the endpoint's `target`
 * attribute; absent = Target(): null namespace, version 1.0).
 */
export interface Endpoint {
  target?: EndpointTarget;
  [method: string]: unknown;
}

/** DefaultRPCAccessPolicy refuses `_` names; LegacyRPCAccessPolicy allows all. */
export type AccessPolicy = 'default' | 'legacy';

export interface DispatchRequest {
  method: unknown;
  args: Dict;
  namespace: string | null;
  /** null for an explicit `"version": null` (Python None, which no endpoint accepts) */
  version: string | null;
}

/** Read a request the way RPCDispatcher.dispatch does (defaults: args {}, namespace None, version "1.0"). */
export function readRequest(message: Dict): DispatchRequest {
  const args = message.args;
  return {
    method: message.method,
    args: args && typeof args === 'object' && !Array.isArray(args) ? (args as Dict) : {},
    namespace: typeof message.namespace === 'string' ? message.namespace : null,
    version: message.version === undefined ? '1.0' : message.version === null ? null : String(message.version),
  };
}

/** rpc/server.py PingEndpoint, added when rpc_ping_enabled. */
export const pingEndpoint: Endpoint = {
  [PING_METHOD]: () => 'pong',
};

export class RpcDispatcher {
  constructor(
    private readonly endpoints: Endpoint[],
    private readonly policy: AccessPolicy = 'default',
  ) {}

  /** Find the function to run; throws the failure Python would send. */
  resolve(req: DispatchRequest): { endpoint: Endpoint; fn: EndpointMethod } {
    let foundCompatible = false;
    for (const endpoint of this.endpoints) {
      const target = endpoint.target ?? {};
      const accepted = [target.namespace ?? null, ...(target.legacyNamespaces ?? [])];
      if (!accepted.includes(req.namespace)) continue;
      if (!versionIsCompatible(target.version || '1.0', req.version)) continue;
      // hasattr(endpoint, method) is only reached for a compatible endpoint; a non-string name raises there.
      const method = methodName(req.method);
      const fn = lookupMethod(endpoint, method);
      if (fn && this.isAllowed(method)) return { endpoint, fn };
      foundCompatible = true;
    }
    if (foundCompatible) throw new NoSuchMethod(req.method as string);
    // UnsupportedVersion(version, method=method): "Attempted method" only when the method is truthy.
    const m = req.method;
    const attempted = m === null || m === undefined || m === '' || m === false || m === 0 ? undefined : m === true ? 'True' : String(m);
    throw new UnsupportedVersion(req.version ?? 'None', attempted);
  }

  private isAllowed(method: string): boolean {
    return this.policy === 'legacy' || !method.startsWith('_');
  }
}

/** The name hasattr() accepts, or its TypeError (Python 3.11 text, Python type names). */
function methodName(method: unknown): string {
  if (typeof method === 'string') return method;
  let pyType: string;
  if (method === null || method === undefined) pyType = 'NoneType';
  else if (typeof method === 'boolean') pyType = 'bool';
  else if (typeof method === 'number') pyType = Number.isInteger(method) ? 'int' : 'float';
  else if (typeof method === 'bigint') pyType = 'int';
  else if (Array.isArray(method)) pyType = 'list';
  else if (typeof method === 'object') pyType = 'dict';
  else pyType = typeof method;
  throw new ExpectedFailure('TypeError', 'builtins', `attribute name must be string, not '${pyType}'`);
}

/** hasattr(endpoint, method) for JS objects: own or class methods, never Object.prototype's or `target`. */
function lookupMethod(endpoint: Endpoint, method: string): EndpointMethod | undefined {
  if (method === 'target' || method === 'constructor') return undefined;
  let proto: object | null = endpoint;
  while (proto && proto !== Object.prototype) {
    const desc = Object.getOwnPropertyDescriptor(proto, method);
    if (desc) return typeof desc.value === 'function' ? (desc.value as EndpointMethod) : undefined;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return undefined;
}
