import { describe, expect, it } from 'vitest';
import { ExpectedFailure, NoSuchMethod, ServerFailure, UnsupportedVersion } from './errors.ts';
import { pingEndpoint, readRequest, RpcDispatcher, type Endpoint } from './dispatcher.ts';
import type { Dict } from './envelope.ts';

/**
 * Expected outcomes were taken from oslo.messaging 14.0.3's
 * RPCDispatcher.dispatch with the same endpoints written in Python:
 *
 *   class EP:  target = Target(version='1.3');  echo(), _hidden()
 *   class NS:  target = Target(namespace='ns1', version='2.1', legacy_namespaces=['old']);  ns_method()
 */
class EP implements Endpoint {
  [method: string]: unknown;
  target = { version: '1.3' };
  echo(_ctxt: Dict, args: Dict) {
    return ['echo', args];
  }
  _hidden() {
    return 'hidden';
  }
}

const ns: Endpoint = {
  target: { namespace: 'ns1', version: '2.1', legacyNamespaces: ['old'] },
  ns_method: () => 'ns',
};

/** What dispatch() does with a decoded message: the method's result, or the failure's Python class and text. */
function dispatch(endpoints: Endpoint[], message: Dict, policy: 'default' | 'legacy' = 'default'): unknown {
  const req = readRequest(message);
  try {
    const { endpoint, fn } = new RpcDispatcher(endpoints, policy).resolve(req);
    return fn.call(endpoint, {}, req.args);
  } catch (err) {
    if (!(err instanceof ServerFailure)) throw err;
    return `${err.pyClass}: ${err.message}`;
  }
}

describe('readRequest', () => {
  it('applies dispatch()’s defaults only to missing keys: args {}, namespace None, version "1.0"', () => {
    expect(readRequest({ method: 'm' })).toEqual({ method: 'm', args: {}, namespace: null, version: '1.0' });
    expect(readRequest({ method: 'm', args: { a: 1 }, namespace: 'ns', version: '2.3' })).toEqual({
      method: 'm',
      args: { a: 1 },
      namespace: 'ns',
      version: '2.3',
    });
  });

  it('keeps an explicit null version as None (message.get("version", "1.0") only defaults a missing key)', () => {
    expect(readRequest({ method: 'm', version: null }).version).toBeNull();
  });
});

describe('RpcDispatcher.resolve, as RPCDispatcher.dispatch', () => {
  it('runs the first compatible endpoint that has the method', () => {
    expect(dispatch([new EP()], { method: 'echo', args: { x: 1 } })).toEqual(['echo', { x: 1 }]);
    expect(dispatch([new EP()], { method: 'echo', version: '1.3' })).toEqual(['echo', {}]);
    // a legacy namespace is accepted as well as the endpoint's own
    expect(dispatch([ns], { method: 'ns_method', namespace: 'old', version: '2.0' })).toBe('ns');
    expect(dispatch([ns], { method: 'ns_method', namespace: 'ns1', version: '2.1' })).toBe('ns');
  });

  it('skips compatible endpoints without the method and keeps looking', () => {
    const second: Endpoint = { target: { version: '1.0' }, other: () => 'second' };
    expect(dispatch([new EP(), second], { method: 'other' })).toBe('second');
  });

  it('chooses NoSuchMethod when some endpoint matched namespace and version', () => {
    expect(dispatch([new EP()], { method: 'nope' })).toBe('NoSuchMethod: Endpoint does not support RPC method nope');
    expect(dispatch([new EP(), ns], { method: 'ns_method', version: '1.0' })).toBe(
      'NoSuchMethod: Endpoint does not support RPC method ns_method',
    );
    expect(dispatch([new EP()], { method: '' })).toBe('NoSuchMethod: Endpoint does not support RPC method ');
  });

  it('chooses UnsupportedVersion when no endpoint matched namespace and version', () => {
    expect(dispatch([], { method: 'echo' })).toBe('UnsupportedVersion: Endpoint does not support RPC version 1.0. Attempted method: echo');
    expect(dispatch([new EP()], { method: 'echo', version: '1.4' })).toBe(
      'UnsupportedVersion: Endpoint does not support RPC version 1.4. Attempted method: echo',
    );
    expect(dispatch([ns], { method: 'ns_method', namespace: 'ns1', version: '2.2' })).toBe(
      'UnsupportedVersion: Endpoint does not support RPC version 2.2. Attempted method: ns_method',
    );
    // the method exists, but only in a namespace the request does not name
    expect(dispatch([ns], { method: 'ns_method' })).toBe(
      'UnsupportedVersion: Endpoint does not support RPC version 1.0. Attempted method: ns_method',
    );
    // a falsy method name leaves out the "Attempted method" part
    expect(dispatch([ns], { method: '' })).toBe('UnsupportedVersion: Endpoint does not support RPC version 1.0');
  });

  it('matches no endpoint for an explicit null version', () => {
    expect(dispatch([new EP()], { method: 'echo', version: null })).toBe(
      'UnsupportedVersion: Endpoint does not support RPC version None. Attempted method: echo',
    );
  });

  it('raises the version parser’s IndexError only when an endpoint in the namespace is checked', () => {
    expect(dispatch([new EP()], { method: 'echo', version: '1' })).toBe('IndexError: list index out of range');
    expect(dispatch([ns], { method: 'echo', version: '1' })).toBe('UnsupportedVersion: Endpoint does not support RPC version 1. Attempted method: echo');
  });

  it('fails a non-string method with hasattr’s TypeError, but only once a compatible endpoint is tried', () => {
    expect(dispatch([new EP()], { method: null })).toBe("TypeError: attribute name must be string, not 'NoneType'");
    expect(dispatch([new EP()], {})).toBe("TypeError: attribute name must be string, not 'NoneType'");
    expect(dispatch([new EP()], { method: 5 })).toBe("TypeError: attribute name must be string, not 'int'");
    expect(dispatch([new EP()], { method: 1.5 })).toBe("TypeError: attribute name must be string, not 'float'");
    expect(dispatch([new EP()], { method: true })).toBe("TypeError: attribute name must be string, not 'bool'");
    expect(dispatch([new EP()], { method: ['a'] })).toBe("TypeError: attribute name must be string, not 'list'");
    expect(dispatch([new EP()], { method: { a: 1 } })).toBe("TypeError: attribute name must be string, not 'dict'");
    // No compatible endpoint: Python never reaches hasattr and reports the version.
    expect(dispatch([ns], { method: null })).toBe('UnsupportedVersion: Endpoint does not support RPC version 1.0');
    expect(dispatch([], {})).toBe('UnsupportedVersion: Endpoint does not support RPC version 1.0');
  });

  it('refuses `_` methods under the default policy (NoSuchMethod) and allows them under the legacy one', () => {
    expect(dispatch([new EP()], { method: '_hidden' })).toBe('NoSuchMethod: Endpoint does not support RPC method _hidden');
    expect(dispatch([new EP()], { method: '__class__' })).toBe('NoSuchMethod: Endpoint does not support RPC method __class__');
    expect(dispatch([new EP()], { method: '_hidden' }, 'legacy')).toBe('hidden');
    // a hidden method on an earlier endpoint does not hide a later one's
    const later: Endpoint = { _hidden: () => 'later' };
    expect(dispatch([new EP(), later], { method: '_hidden' }, 'legacy')).toBe('hidden');
    expect(dispatch([new EP(), later], { method: '_hidden' })).toBe('NoSuchMethod: Endpoint does not support RPC method _hidden');
  });

  it('never finds Object.prototype members, the constructor, `target` or non-function properties', () => {
    const plain: Endpoint = { data: 42, echo: () => 'plain' };
    for (const method of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__', '__defineGetter__', 'constructor', 'target', 'data']) {
      for (const policy of ['default', 'legacy'] as const) {
        expect(dispatch([new EP(), plain], { method }, policy)).toBe(`NoSuchMethod: Endpoint does not support RPC method ${method}`);
      }
    }
  });

  it('finds methods inherited from a base class', () => {
    class Child extends EP {
      own() {
        return 'own';
      }
    }
    expect(dispatch([new Child()], { method: 'echo' })).toEqual(['echo', {}]);
    expect(dispatch([new Child()], { method: 'own' })).toBe('own');
  });

  it('answers the ping method when the ping endpoint is added', () => {
    expect(dispatch([new EP(), pingEndpoint], { method: 'oslo_rpc_server_ping' })).toBe('pong');
    expect(dispatch([new EP()], { method: 'oslo_rpc_server_ping' })).toBe(
      'NoSuchMethod: Endpoint does not support RPC method oslo_rpc_server_ping',
    );
  });

  it('throws the error classes a Python caller recognises', () => {
    const d = new RpcDispatcher([new EP()]);
    expect(() => d.resolve(readRequest({ method: 'nope' }))).toThrow(NoSuchMethod);
    expect(() => d.resolve(readRequest({ method: 'echo', version: '9.0' }))).toThrow(UnsupportedVersion);
    expect(() => d.resolve(readRequest({ method: 7 }))).toThrow(ExpectedFailure);
    let thrown: unknown;
    try {
      d.resolve(readRequest({ method: 'nope' }));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ pyClass: 'NoSuchMethod', pyModule: 'oslo_messaging.rpc.dispatcher', method: 'nope' });
  });
});
