"""Golden peer for transport URL parsing: what the real oslo.messaging does.

Reads a JSON array of URL strings on stdin and writes
{"opts": [...], "results": [...]} on stdout: the definition of every option of
the [oslo_messaging_rabbit] group, and one result per URL. Run it with Debian's /usr/bin/python3 (the one with
python3-oslo.messaging 14.0.3).

For each URL it reports four stages, each {"ok": true, ...} or
{"ok": false, "error": "<ExceptionClass>", "message": "..."}:

- parse: oslo_messaging.TransportURL.parse (transport.py) -> transport,
  hosts, virtual_host, query, and str() with every password replaced by a
  sentinel so the caller can compare its own redacted rendering.
- options: the driver-side option handling, i.e. what
  impl_rabbit:RabbitDriver.__init__ does before it touches the network:
  register rabbit_opts + amqp_opts + base_opts in [oslo_messaging_rabbit] and
  build _drivers/common.py:ConfigOptsProxy, which raises NoSuchOptError or
  ValueError for a bad query key or value. Reports the converted value of
  every query key and the effective `ssl`.
- driver: whether an oslo.messaging.drivers entry point exists for the part
  of the scheme before the first '+' (transport.py:_get_transport).
- connection: for the rabbit driver, the kombu URLs impl_rabbit:Connection
  builds (same three branches as Connection.__init__, without the shuffle),
  and what kombu makes of each (kombu.Connection(...).info(), no I/O).
"""

import importlib.metadata
import json
import math
import sys

import kombu
from oslo_config import cfg

import oslo_messaging
from oslo_messaging import transport as om_transport
from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common
from oslo_messaging._drivers import impl_rabbit

PASSWORD_SENTINEL = 'PW-SENTINEL-0f3a'
GROUP = 'oslo_messaging_rabbit'
DRIVER_NAMES = {ep.name for ep in
                importlib.metadata.entry_points(group='oslo.messaging.drivers')}


def failure(exc):
    return {'ok': False, 'error': type(exc).__name__, 'message': str(exc)}


def plain(value):
    # JSON has no NaN/Infinity; spell them out so the caller can compare.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def rabbit_conf():
    conf = cfg.ConfigOpts()
    group = cfg.OptGroup(name=GROUP)
    conf.register_group(group)
    conf.register_opts(impl_rabbit.rabbit_opts, group=group)
    conf.register_opts(rpc_amqp.amqp_opts, group=group)
    conf.register_opts(base.base_opts, group=group)
    return conf


def parse_stage(url):
    parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), url)
    hosts = [{'hostname': h.hostname, 'port': h.port,
              'username': h.username, 'password': h.password}
             for h in parsed.hosts]
    redacted = oslo_messaging.TransportURL(
        cfg.ConfigOpts(), parsed.transport, parsed.virtual_host,
        [om_transport.TransportHost(
            hostname=h.hostname, port=h.port, username=h.username,
            password=None if h.password is None else PASSWORD_SENTINEL)
         for h in parsed.hosts],
        parsed.query)
    return parsed, {'ok': True, 'transport': parsed.transport,
                    'hosts': hosts, 'virtual_host': parsed.virtual_host,
                    'query': parsed.query, 'str': str(redacted)}


def options_stage(url):
    conf = rabbit_conf()
    parsed = oslo_messaging.TransportURL.parse(conf, url)
    proxy = rpc_common.ConfigOptsProxy(conf, parsed, GROUP)
    group = proxy[GROUP]
    values = {name: plain(group[name]) for name in parsed.query}
    return {'ok': True, 'values': values, 'ssl': group['ssl']}


def connection_stage(parsed):
    # impl_rabbit:Connection.__init__, URL part; _transform_transport_url does
    # not use instance state beyond _parse_url_hostname.
    conn = impl_rabbit.Connection.__new__(impl_rabbit.Connection)
    if parsed.hosts:
        urls = [conn._transform_transport_url(parsed, host)
                for host in parsed.hosts]
    elif parsed.transport.startswith('kombu+'):
        urls = ['%s://%s' % (parsed.transport.replace('kombu+', ''),
                             parsed.virtual_host or '')]
    else:
        urls = [conn._transform_transport_url(
            parsed, om_transport.TransportHost(''),
            default_username='guest', default_password='guest',
            default_hostname='localhost')]
    endpoints = []
    for kombu_url in urls:
        info = kombu.Connection(kombu_url).info()
        endpoints.append({'hostname': info['hostname'], 'port': info['port'],
                          'userid': info['userid'],
                          'password': info['password'],
                          'virtual_host': info['virtual_host'],
                          'transport': info['transport']})
    return {'ok': True, 'urls': urls, 'endpoints': endpoints}


def run(url):
    result = {'url': url}
    try:
        parsed, result['parse'] = parse_stage(url)
    except Exception as exc:  # noqa: BLE001 - every failure is data here
        result['parse'] = failure(exc)
        return result
    try:
        result['options'] = options_stage(url)
    except Exception as exc:  # noqa: BLE001
        result['options'] = failure(exc)
    name = parsed.transport.split('+')[0]
    result['driver'] = {'ok': name in DRIVER_NAMES, 'name': name}
    if name in ('rabbit', 'kombu'):
        try:
            result['connection'] = connection_stage(parsed)
        except Exception as exc:  # noqa: BLE001
            result['connection'] = failure(exc)
    return result


OPT_TYPES = {'BoolOpt': 'boolean', 'IntOpt': 'integer',
             'FloatOpt': 'float', 'StrOpt': 'string'}


def group_opts():
    # Every option of [oslo_messaging_rabbit] as the driver registers it.
    conf = rabbit_conf()
    out = []
    for name in conf[GROUP]:
        opt = conf._get_opt_info(name, GROUP)['opt']
        choices = getattr(opt.type, 'choices', None)
        out.append({
            'name': name,
            'type': OPT_TYPES.get(type(opt).__name__, type(opt).__name__),
            'default': opt.default,
            'min': getattr(opt.type, 'min', None),
            'max': getattr(opt.type, 'max', None),
            'choices': list(choices) if choices is not None else None,
            'deprecated': [{'group': d.group, 'name': d.name}
                           for d in opt.deprecated_opts],
            'deprecated_for_removal': bool(opt.deprecated_for_removal),
        })
    return out


def main():
    urls = json.load(sys.stdin)
    json.dump({'opts': group_opts(), 'results': [run(url) for url in urls]},
              sys.stdout)


if __name__ == '__main__':
    main()
