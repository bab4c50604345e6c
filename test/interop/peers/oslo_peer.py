#!/usr/bin/python3
"""Real oslo.messaging peers for the interop tests.

Run with Debian's /usr/bin/python3 (oslo.messaging 14.0.3). One script,
several sub-commands:

  rpc-server       an RPC server with a versioned default endpoint and a
                   namespaced one (see DefaultEndpoint / Ns1Endpoint)
  rpc-client       reads JSON commands on stdin (call / cast), answers each
                   with one JSON line; commands run concurrently
  notify           reads JSON commands on stdin, sends notifications
  notify-listener  a (batch) notification listener, one line per message
  bench-server     RPC server with ping(ctxt, n) -> n, no per-call output
  bench-client     C threads x N calls against bench-server, prints stats

Protocol: every line on stdout is one JSON object; logs go to stderr. Long
running peers print {"event": "ready", ...} once they are listening and stop
cleanly on SIGTERM, SIGINT or EOF on stdin.

Common options (accepted after the sub-command):
  --url URL          transport URL (default rabbit://guest:guest@127.0.0.1:5672/)
  --exchange NAME    control_exchange (oslo_messaging.set_transport_defaults)
  --conf [GROUP.]NAME=VALUE
                     an oslo.config override, e.g. rpc_response_timeout=5 or
                     oslo_messaging_rabbit.kombu_compression=gzip (repeatable)
  --debug            DEBUG logging (default WARNING)
"""

import os
import sys

# Start-up time matters (tests start many peers): eventlet, imported by oslo
# even when unused, would otherwise load dnspython for its green resolver.
os.environ.setdefault('EVENTLET_NO_GREENDNS', 'yes')

# bench-client --green runs its worker threads as eventlet green threads (for
# comparison; native threads measured faster, see cmd_bench_client).
# Monkey patching has to happen before anything imports threading or socket.
if __name__ == '__main__' and '--green' in sys.argv[1:]:
    import eventlet
    eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from oslo_config import cfg  # noqa: E402
from oslo_serialization import jsonutils  # noqa: E402
import oslo_messaging  # noqa: E402
from oslo_messaging import opts as messaging_opts  # noqa: E402
from oslo_messaging.rpc import dispatcher as rpc_dispatcher  # noqa: E402

import peer_exceptions  # noqa: E402

DEFAULT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample')

LOG = logging.getLogger('oslo_peer')


# --------------------------------------------------------------------------
# Output: one JSON object per stdout line, written atomically across threads.

_out_lock = threading.Lock()
_stop = threading.Event()
_stop_reason = []


def _finite(value):
    """Replace NaN/Infinity (not valid JSON) by their names, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _encode_line(obj):
    try:
        return json.dumps(obj, allow_nan=False, default=repr)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False, default=repr)


def emit(obj):
    line = _encode_line(obj)
    with _out_lock:
        try:
            sys.stdout.write(line + '\n')
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            # Whoever started us is gone: nothing left to report to.
            request_stop('stdout closed')


def python_json(value):
    """The JSON text oslo itself would produce for `value` (jsonutils).

    The harness parses stdout with JSON.parse, which turns 2.0 into 2 and
    rounds ints above 2**53; this text keeps what Python really holds.
    """
    try:
        return jsonutils.dumps(value)
    except (TypeError, ValueError):
        return None


def jsonable(value):
    """A JSON-safe stand-in for arbitrary values (exception args etc.)."""
    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError):
        return repr(value)


def context_dict(ctxt):
    if ctxt is None:
        return None
    if isinstance(ctxt, dict):
        return ctxt
    to_dict = getattr(ctxt, 'to_dict', None)
    if callable(to_dict):
        return to_dict()
    return repr(ctxt)


# --------------------------------------------------------------------------
# Life cycle: stop on SIGTERM/SIGINT, EOF on stdin, or parent death.

def request_stop(reason):
    if not _stop.is_set():
        _stop_reason.append(reason)
        _stop.set()


def _die_with_parent():
    """Get SIGTERM when the process that started us dies (Linux prctl)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def install_stop_handlers():
    def on_signal(signum, _frame):
        request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _die_with_parent()


def start_stdin_reader(on_command=None, on_eof=None):
    """Read stdin lines in a daemon thread.

    Each non-empty line is parsed as JSON and handed to on_command (if
    given). At EOF on_eof runs (default: request a stop).
    """
    def run():
        while True:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ''
            if not line:
                break
            line = line.strip()
            if not line or on_command is None:
                continue
            try:
                cmd = json.loads(line)
            except ValueError as exc:
                emit({'event': 'error', 'error': 'bad JSON on stdin: %s' % exc,
                      'line': line})
                continue
            if not isinstance(cmd, dict):
                emit({'event': 'error', 'error': 'command is not an object',
                      'line': line})
                continue
            on_command(cmd)
        if on_eof is not None:
            on_eof()
        else:
            request_stop('stdin closed')

    thread = threading.Thread(target=run, name='stdin-reader', daemon=True)
    thread.start()
    return thread


def wait_for_stop():
    # A timed wait keeps the main thread responsive to signals.
    while not _stop.wait(0.2):
        pass


def finish(cleanup, exit_code=0):
    """Run cleanup with a deadline, then leave without waiting for threads.

    oslo leaves non-daemon threads behind (executor pools, heartbeat
    threads); a hard exit after a clean shutdown keeps stop() fast.
    """
    watchdog = threading.Timer(15.0, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    try:
        cleanup()
    except Exception:
        LOG.exception('cleanup failed')
        exit_code = exit_code or 1
    emit({'event': 'stopped', 'reason': (_stop_reason or ['done'])[0]})
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(exit_code)


# --------------------------------------------------------------------------
# oslo configuration

def configure(args):
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.debug else logging.WARNING,
        format='%(asctime)s %(levelname)s %(name)s [%(threadName)s] '
               '%(message)s')
    # The global cfg.CONF is required: in 14.0.3 a private ConfigOpts makes
    # call()/cast() fail (metrics options are only registered on cfg.CONF).
    oslo_messaging.set_transport_defaults(control_exchange=args.exchange)
    # Register every oslo.messaging option up front so --conf overrides can
    # be applied before the driver reads them. set_transport_defaults must
    # come first: list_opts() deep-copies the options, defaults included.
    for group, opts in messaging_opts.list_opts():
        cfg.CONF.register_opts(opts, group=group)
    cfg.CONF.register_opts(rpc_dispatcher._dispatcher_opts)
    cfg.CONF(args=[], project='osloscope-peer', default_config_files=[],
             default_config_dirs=[])
    for item in args.conf or []:
        key, sep, value = item.partition('=')
        if not sep:
            raise SystemExit('--conf expects [GROUP.]NAME=VALUE, got %r' % item)
        group, _, name = key.rpartition('.')
        cfg.CONF.set_override(name, value, group=group or None)
    if getattr(args, 'ping', False):
        cfg.CONF.set_override('rpc_ping_enabled', True)


def rpc_transport(args, allowed_remote_exmods=None):
    return oslo_messaging.get_rpc_transport(
        cfg.CONF, url=args.url, allowed_remote_exmods=allowed_remote_exmods)


def notification_transport(args):
    return oslo_messaging.get_notification_transport(cfg.CONF, url=args.url)


# --------------------------------------------------------------------------
# rpc-server

class _RecordingEndpoint(object):
    endpoint_name = 'endpoint'

    def __init__(self, server_name):
        self._server_name = server_name

    def _invoked(self, ctxt, method, **kwargs):
        emit({'event': 'invoked', 'server': self._server_name,
              'endpoint': self.endpoint_name, 'method': method,
              'args': kwargs, 'args_json': python_json(kwargs),
              'ctxt': context_dict(ctxt)})


class DefaultEndpoint(_RecordingEndpoint):
    endpoint_name = 'default'
    target = oslo_messaging.Target(version='1.3')

    def echo(self, ctxt, value):
        self._invoked(ctxt, 'echo', value=value)
        return value

    def echo_ctxt(self, ctxt):
        self._invoked(ctxt, 'echo_ctxt')
        return context_dict(ctxt)

    def add(self, ctxt, a, b):
        self._invoked(ctxt, 'add', a=a, b=b)
        return a + b

    def sleep(self, ctxt, secs):
        self._invoked(ctxt, 'sleep', secs=secs)
        time.sleep(secs)
        return secs

    def fail(self, ctxt, message):
        self._invoked(ctxt, 'fail', message=message)
        raise ValueError(message)

    def fail_custom(self, ctxt, name):
        self._invoked(ctxt, 'fail_custom', name=name)
        raise peer_exceptions.InstanceNotFound(instance_id=name)

    def _hidden(self, ctxt):
        # DefaultRPCAccessPolicy refuses names starting with '_': a call to
        # this method must end in NoSuchMethod and never get here.
        self._invoked(ctxt, '_hidden')
        return 'hidden'

    def types(self, ctxt):
        self._invoked(ctxt, 'types')
        return {
            'str': 'plain',
            'unicode': '\u00e9\u4e2d\U0001F600',
            'int': 42,
            'negative': -7,
            'zero': 0,
            'float': 1.5,
            'integral_float': 2.0,
            'big_int': 2 ** 64,
            'list': [1, 'two', [3, None]],
            'dict': {'nested': {'deep': [True, False]}, 'n': 1},
            'null': None,
            'true': True,
            'false': False,
            'empty_list': [],
            'empty_dict': {},
            'empty_str': '',
        }

    def big(self, ctxt, size):
        self._invoked(ctxt, 'big', size=size)
        return 'x' * size


class Ns1Endpoint(_RecordingEndpoint):
    endpoint_name = 'ns1'
    target = oslo_messaging.Target(namespace='ns1', version='2.1')

    def ns_method(self, ctxt, x):
        self._invoked(ctxt, 'ns_method', x=x)
        return {'ns': 'ns1', 'x': x}

    def echo(self, ctxt, value):
        self._invoked(ctxt, 'echo', value=value)
        return {'ns1': value}


def _disable_fanout_consumers():
    """Make RPC servers of this process skip the <topic>_fanout consumer.

    oslo itself always declares it (amqpdriver:AMQPDriverBase.listen); the
    peer offers --no-fanout so tests can have a server that fanout casts
    must not reach. The peer process runs a single server, so patching the
    connection class is enough.
    """
    from oslo_messaging._drivers import impl_rabbit

    def no_fanout(self, topic, callback):
        LOG.info('--no-fanout: not consuming %s_fanout', topic)

    impl_rabbit.Connection.declare_fanout_consumer = no_fanout


def cmd_rpc_server(args):
    install_stop_handlers()
    configure(args)
    if args.no_fanout:
        _disable_fanout_consumers()
    transport = rpc_transport(args)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    endpoints = [DefaultEndpoint(args.server), Ns1Endpoint(args.server)]
    server = oslo_messaging.get_rpc_server(
        transport, target, endpoints, executor='threading',
        access_policy=rpc_dispatcher.DefaultRPCAccessPolicy)
    # start() declares and binds every queue before it returns, so a message
    # sent after "ready" cannot be lost.
    server.start()
    emit({'event': 'ready', 'topic': args.topic, 'server': args.server,
          'exchange': args.exchange, 'fanout': not args.no_fanout,
          'ping': bool(args.ping), 'pid': os.getpid()})
    start_stdin_reader()
    wait_for_stop()

    def cleanup():
        server.stop()
        server.wait()
        transport.cleanup()

    finish(cleanup)


# --------------------------------------------------------------------------
# rpc-client

def _target_from(spec):
    if not isinstance(spec, dict) or not spec.get('topic'):
        raise ValueError('target.topic is required')
    return oslo_messaging.Target(
        exchange=spec.get('exchange'),
        topic=spec['topic'],
        namespace=spec.get('namespace'),
        version=spec.get('version'),
        server=spec.get('server'),
        fanout=spec.get('fanout'))


def _command_args(cmd, key):
    """args/payload from the command; "<key>_json" (a JSON text) wins.

    The *_json form lets a test send values JSON.stringify cannot write
    (2.0 as a float, ints above 2**53, NaN).
    """
    raw = cmd.get(key + '_json')
    if raw is not None:
        return json.loads(raw)
    return cmd.get(key)


def describe_exception(exc):
    out = {
        'type': type(exc).__name__,
        'module': type(exc).__module__,
        'message': str(exc),
        'args': jsonable(list(exc.args)),
    }
    kwargs = getattr(exc, 'kwargs', None)
    if isinstance(kwargs, dict):
        out['kwargs'] = jsonable(kwargs)
    if isinstance(exc, oslo_messaging.RemoteError):
        out['remote'] = {'exc_type': exc.exc_type, 'value': exc.value,
                         'traceback': exc.traceback}
    return out


def run_rpc_command(transport, cmd):
    started = time.monotonic()
    answer = {'id': cmd.get('id')}
    try:
        op = cmd.get('op')
        if op not in ('call', 'cast'):
            raise ValueError('op must be "call" or "cast", got %r' % (op,))
        method = cmd.get('method')
        if not isinstance(method, str):
            raise ValueError('method is required')
        target = _target_from(cmd.get('target'))
        kwargs = {}
        for key in ('timeout', 'call_monitor_timeout', 'retry',
                    'version_cap'):
            if cmd.get(key) is not None:
                kwargs[key] = cmd[key]
        if cmd.get('at_least_once'):
            kwargs['transport_options'] = oslo_messaging.TransportOptions(
                at_least_once=True)
        client = oslo_messaging.get_rpc_client(transport, target, **kwargs)
        ctxt = _command_args(cmd, 'ctxt') or {}
        method_args = _command_args(cmd, 'args') or {}
        if op == 'call':
            result = client.call(ctxt, method, **method_args)
        else:
            client.cast(ctxt, method, **method_args)
            result = None
        answer.update(ok=True, result=result, result_repr=repr(result),
                      result_json=python_json(result))
    except Exception as exc:  # every failure is an answer, never a crash
        answer['ok'] = False
        answer.update(describe_exception(exc))
    answer['elapsed'] = time.monotonic() - started
    emit(answer)


def cmd_rpc_client(args):
    install_stop_handlers()
    configure(args)
    exmods = [m for m in args.allowed_exmods.split(',') if m]
    transport = rpc_transport(args, allowed_remote_exmods=exmods)
    in_flight = set()
    in_flight_lock = threading.Lock()

    def on_command(cmd):
        def run():
            try:
                run_rpc_command(transport, cmd)
            finally:
                with in_flight_lock:
                    in_flight.discard(thread)

        thread = threading.Thread(target=run, name='cmd-%s' % cmd.get('id'),
                                  daemon=True)
        with in_flight_lock:
            in_flight.add(thread)
        thread.start()

    def on_eof():
        # Answer what is still running, then stop.
        while True:
            with in_flight_lock:
                pending = list(in_flight)
            if not pending:
                break
            for thread in pending:
                thread.join()
        request_stop('stdin closed')

    emit({'event': 'ready', 'exchange': args.exchange,
          'allowed_remote_exmods': exmods, 'pid': os.getpid()})
    start_stdin_reader(on_command, on_eof)
    wait_for_stop()
    finish(transport.cleanup)


# --------------------------------------------------------------------------
# notify

class _NotifierErrorTrap(logging.Handler):
    """Collect the errors the Notifier logs instead of raising.

    Notifier._notify and MessagingDriver.notify swallow send failures with
    LOG.exception; records are matched to the sending thread.
    """

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self._errors = {}
        self._lock = threading.Lock()

    def emit(self, record):
        with self._lock:
            self._errors.setdefault(record.thread, []).append(
                record.getMessage())

    def take(self):
        with self._lock:
            return self._errors.pop(threading.get_ident(), [])


def cmd_notify(args):
    install_stop_handlers()
    configure(args)
    transport = notification_transport(args)
    trap = _NotifierErrorTrap()
    logging.getLogger('oslo_messaging.notify').addHandler(trap)
    notifiers = {}
    notifiers_lock = threading.Lock()

    def notifier_for(driver, topics, retry):
        key = (driver, tuple(topics), retry)
        with notifiers_lock:
            if key not in notifiers:
                notifiers[key] = oslo_messaging.Notifier(
                    transport, driver=driver, topics=list(topics),
                    retry=retry)
            return notifiers[key]

    def on_command(cmd):
        started = time.monotonic()
        answer = {'id': cmd.get('id')}
        try:
            priority = (cmd.get('priority') or 'info').lower()
            if priority == 'warning':
                priority = 'warn'
            if priority not in PRIORITIES:
                raise ValueError('unknown priority %r' % (priority,))
            notifier = notifier_for(cmd.get('driver') or 'messagingv2',
                                    cmd.get('topics') or ['notifications'],
                                    cmd.get('retry'))
            if cmd.get('publisher_id'):
                notifier = notifier.prepare(publisher_id=cmd['publisher_id'])
            trap.take()
            getattr(notifier, priority)(_command_args(cmd, 'ctxt') or {},
                                        cmd.get('event_type') or 'peer.test',
                                        _command_args(cmd, 'payload'))
            errors = trap.take()
            if errors:
                answer.update(ok=False, type='NotificationNotSent',
                              message='; '.join(errors))
            else:
                answer['ok'] = True
        except Exception as exc:
            answer['ok'] = False
            answer.update(describe_exception(exc))
        answer['elapsed'] = time.monotonic() - started
        emit(answer)

    emit({'event': 'ready', 'exchange': args.exchange, 'pid': os.getpid()})
    # Notifications are sent one at a time, in stdin order (publisher
    # confirms make each send synchronous).
    start_stdin_reader(on_command)
    wait_for_stop()
    finish(transport.cleanup)


# --------------------------------------------------------------------------
# notify-listener

def _parse_listener_target(text):
    topic, _, exchange = text.partition('@')
    return oslo_messaging.Target(topic=topic, exchange=exchange or None)


def _notification_event(priority, ctxt, publisher_id, event_type, payload,
                        metadata):
    return {'priority': priority, 'publisher_id': publisher_id,
            'event_type': event_type, 'payload': payload,
            'payload_json': python_json(payload), 'metadata': metadata,
            'ctxt': context_dict(ctxt)}


def cmd_notify_listener(args):
    install_stop_handlers()
    configure(args)
    priorities = [p.strip().lower() for p in args.priorities.split(',')
                  if p.strip()]
    for p in priorities:
        if p not in PRIORITIES:
            raise SystemExit('unknown priority %r' % p)
    batch = args.batch_size is not None or args.batch_timeout is not None
    seen = set()
    seen_lock = threading.Lock()

    def first_sighting(message_ids):
        with seen_lock:
            new = [m for m in message_ids if m not in seen]
            seen.update(message_ids)
            return bool(new)

    def single_handler(priority):
        def handle(self, ctxt, publisher_id, event_type, payload, metadata):
            event = _notification_event(priority, ctxt, publisher_id,
                                        event_type, payload, metadata)
            if args.requeue_first and first_sighting(
                    [metadata.get('message_id')]):
                emit(dict(event='requeued', **event))
                return oslo_messaging.NotificationResult.REQUEUE
            emit(dict(event='notification', **event))
            return oslo_messaging.NotificationResult.HANDLED
        return handle

    def batch_handler(priority):
        def handle(self, messages):
            events = [_notification_event(priority, m['ctxt'],
                                          m['publisher_id'], m['event_type'],
                                          m['payload'], m['metadata'])
                      for m in messages]
            ids = [m['metadata'].get('message_id') for m in messages]
            if args.requeue_first and first_sighting(ids):
                emit({'event': 'requeued_batch', 'priority': priority,
                      'messages': events})
                return oslo_messaging.NotificationResult.REQUEUE
            emit({'event': 'batch', 'priority': priority, 'messages': events})
            return oslo_messaging.NotificationResult.HANDLED
        return handle

    make = batch_handler if batch else single_handler
    endpoint_cls = type('PeerNotificationEndpoint', (object,),
                        {p: make(p) for p in priorities})
    transport = notification_transport(args)
    targets = [_parse_listener_target(t) for t in args.targets]
    common = dict(executor='threading', pool=args.pool,
                  allow_requeue=args.requeue_first)
    if batch:
        listener = oslo_messaging.get_batch_notification_listener(
            transport, targets, [endpoint_cls()],
            batch_size=args.batch_size, batch_timeout=args.batch_timeout,
            **common)
    else:
        listener = oslo_messaging.get_notification_listener(
            transport, targets, [endpoint_cls()], **common)
    listener.start()
    emit({'event': 'ready', 'targets': args.targets, 'pool': args.pool,
          'priorities': priorities, 'batch': batch,
          'exchange': args.exchange, 'pid': os.getpid()})
    start_stdin_reader()
    wait_for_stop()

    def cleanup():
        listener.stop()
        listener.wait()
        transport.cleanup()

    finish(cleanup)


# --------------------------------------------------------------------------
# bench-server / bench-client

class BenchEndpoint(object):
    def ping(self, ctxt, n):
        return n


def cmd_bench_server(args):
    install_stop_handlers()
    configure(args)
    transport = rpc_transport(args)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=args.topic, server=args.server),
        [BenchEndpoint()], executor='threading',
        access_policy=rpc_dispatcher.DefaultRPCAccessPolicy)
    server.start()
    emit({'event': 'ready', 'topic': args.topic, 'server': args.server,
          'exchange': args.exchange, 'pid': os.getpid()})
    start_stdin_reader()
    wait_for_stop()

    def cleanup():
        server.stop()
        server.wait()
        transport.cleanup()

    finish(cleanup)


def _percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1,
                max(0, int(math.ceil(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


def _run_calls(client, count, concurrency, latencies):
    """Run `count` calls spread over `concurrency` threads."""
    remaining = [count]
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if remaining[0] <= 0 or errors:
                    return
                remaining[0] -= 1
                n = remaining[0]
            started = time.perf_counter()
            try:
                got = client.call({}, 'ping', n=n)
                if got != n:
                    raise AssertionError('ping(%d) returned %r' % (n, got))
            except Exception as exc:
                with lock:
                    errors.append(exc)
                return
            if latencies is not None:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, name='bench-%d' % i)
               for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def cmd_bench_client(args):
    # Native threads are the default because oslo ran faster with them:
    # against a local RabbitMQ 3.10 (oslo.messaging 14.0.3, eventlet
    # 0.33.1, 2 CPUs) native threads did 200-275 calls/s at concurrency 1
    # and 420-575 at 8-16, eventlet green threads (--green, monkey patched)
    # 160-210 and 340-460, with worse p99. Neither a shorter GIL switch
    # interval nor disabling the heartbeat threads changed that beyond
    # noise. Beyond 30 threads the send pool (rpc_conn_pool_size) blocks;
    # raise it with --conf oslo_messaging_rabbit.rpc_conn_pool_size=N.
    configure(args)
    transport = rpc_transport(args)
    client = oslo_messaging.get_rpc_client(
        transport,
        oslo_messaging.Target(topic=args.topic, server=args.server or None),
        timeout=args.timeout)
    try:
        if args.warmup:
            _run_calls(client, args.warmup, args.concurrency, None)
        latencies = []
        started = time.perf_counter()
        _run_calls(client, args.calls, args.concurrency, latencies)
        seconds = time.perf_counter() - started
        latencies.sort()
        emit({'calls': args.calls, 'concurrency': args.concurrency,
              'seconds': seconds,
              'calls_per_sec': args.calls / seconds if seconds > 0 else None,
              'p50_ms': _percentile(latencies, 0.50) * 1000.0,
              'p99_ms': _percentile(latencies, 0.99) * 1000.0,
              'threads': 'green' if args.green else 'native'})
        code = 0
    except Exception as exc:
        emit(dict(event='error', **describe_exception(exc)))
        code = 1
    finish(transport.cleanup, code)


# --------------------------------------------------------------------------

def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--url', default=DEFAULT_URL)
    common.add_argument('--exchange', default='openstack',
                        help='control_exchange')
    common.add_argument('--conf', action='append', metavar='[GROUP.]NAME=VALUE',
                        help='oslo.config override (repeatable)')
    common.add_argument('--debug', action='store_true')

    parser = argparse.ArgumentParser(
        description='oslo.messaging interop peers')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('rpc-server', parents=[common])
    p.add_argument('--topic', required=True)
    p.add_argument('--server', required=True)
    p.add_argument('--no-fanout', action='store_true',
                   help='do not consume <topic>_fanout')
    p.add_argument('--ping', action='store_true',
                   help='rpc_ping_enabled (oslo_rpc_server_ping -> "pong")')
    p.set_defaults(func=cmd_rpc_server)

    p = sub.add_parser('rpc-client', parents=[common])
    p.add_argument('--allowed-exmods', default='peer_exceptions',
                   help='comma separated allowed_remote_exmods')
    p.set_defaults(func=cmd_rpc_client)

    p = sub.add_parser('notify', parents=[common])
    p.set_defaults(func=cmd_notify)

    p = sub.add_parser('notify-listener', parents=[common])
    p.add_argument('--targets', nargs='+', required=True,
                   metavar='TOPIC[@EXCHANGE]')
    p.add_argument('--pool')
    p.add_argument('--priorities', default=','.join(PRIORITIES))
    p.add_argument('--batch-size', type=int)
    p.add_argument('--batch-timeout', type=float)
    p.add_argument('--requeue-first', action='store_true',
                   help='REQUEUE each message_id the first time it is seen')
    p.set_defaults(func=cmd_notify_listener)

    p = sub.add_parser('bench-server', parents=[common])
    p.add_argument('--topic', required=True)
    p.add_argument('--server', required=True)
    p.set_defaults(func=cmd_bench_server)

    p = sub.add_parser('bench-client', parents=[common])
    p.add_argument('--topic', required=True)
    p.add_argument('--server')
    p.add_argument('--concurrency', type=int, default=1)
    p.add_argument('--calls', type=int, required=True)
    p.add_argument('--warmup', type=int, default=0)
    p.add_argument('--timeout', type=float, default=30.0)
    p.add_argument('--green', action='store_true',
                   help='eventlet green threads instead of native threads')
    p.set_defaults(func=cmd_bench_client)
    return parser


def main():
    args = build_parser().parse_args()
    if getattr(args, 'concurrency', 1) < 1:
        raise SystemExit('--concurrency must be >= 1')
    args.func(args)


if __name__ == '__main__':
    main()
