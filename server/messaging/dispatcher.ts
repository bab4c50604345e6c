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
  version: string;
}

/** Read a request the way RPCDispatcher.dispatch does (defaults: args {}, namespace None, version "1.0"). */
export function readRequest(message: Dict): DispatchRequest {
  const args = message.args;
  return {
    method: message.method,
    args: args && typeof args === 'object' && !Array.isArray(args) ? (args as Dict) : {},
    namespace: typeof message.namespace === 'string' ? message.namespace : null,
    version: message.version === undefined || message.version === null ? '1.0' : String(message.version),
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
    if (typeof req.method !== 'string') {
      // hasattr(endpoint, None) in Python 3.11
      const pyType = req.method === null || req.method === undefined ? 'NoneType' : typeof req.method === 'number' ? 'int' : typeof req.method;
      throw new ExpectedFailure('TypeError', 'builtins', `attribute name must be string, not '${pyType}'`);
    }
    const method = req.method;
    let foundCompatible = false;
    for (const endpoint of this.endpoints) {
      const target = endpoint.target ?? {};
      const accepted = [target.namespace ?? null, ...(target.legacyNamespaces ?? [])];
      if (!accepted.includes(req.namespace)) continue;
      if (!versionIsCompatible(target.version || '1.0', req.version)) continue;
      const fn = lookupMethod(endpoint, method);
      if (fn && this.isAllowed(method)) return { endpoint, fn };
      foundCompatible = true;
    }
    if (foundCompatible) throw new NoSuchMethod(method);
    throw new UnsupportedVersion(req.version, method);
  }

  private isAllowed(method: string): boolean {
    return this.policy === 'legacy' || !method.startsWith('_');
  }
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
