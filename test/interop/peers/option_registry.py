"""Golden peer for the option registry: what one oslo.messaging release registers.

Prints one JSON object on stdout: {"version": "<oslo.messaging version>",
"groups": {"oslo_messaging_rabbit": [...], "oslo_messaging_notifications":
[...], "DEFAULT": [...]}} with the definition of every option osloscope
reads from those groups, registered the way the library registers them at
run time:

- [oslo_messaging_rabbit]: impl_rabbit:RabbitDriver.__init__ registers
  impl_rabbit.rabbit_opts, _drivers/amqp.py:amqp_opts and
  _drivers/base.py:base_opts into the group;
- [oslo_messaging_notifications]: notify/notifier.py:_notifier_opts;
- [DEFAULT]: transport.py:_transport_opts (transport_url, control_exchange)
  and rpc/client.py:_client_opts (rpc_response_timeout).

Run it with the Python of the release to check (Debian's /usr/bin/python3
for 14.0.3, TEST_PYTHON for a stack's).
"""

import importlib.metadata
import json
import math
import os
import sys

from oslo_config import cfg

from oslo_messaging import transport as om_transport
from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import base
from oslo_messaging._drivers import impl_rabbit
from oslo_messaging.notify import notifier
from oslo_messaging.rpc import client as rpc_client

OPT_TYPES = {'BoolOpt': 'boolean', 'IntOpt': 'integer', 'FloatOpt': 'float',
             'StrOpt': 'string', 'ListOpt': 'list',
             'MultiStrOpt': 'multistring'}


def plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def describe(opt):
    choices = getattr(opt.type, 'choices', None)
    return {
        'name': opt.name,
        'type': OPT_TYPES.get(type(opt).__name__, type(opt).__name__),
        'default': plain(opt.default),
        'min': getattr(opt.type, 'min', None),
        'max': getattr(opt.type, 'max', None),
        'choices': list(choices) if choices is not None else None,
        'deprecated': [{'group': d.group, 'name': d.name}
                       for d in opt.deprecated_opts],
        'deprecated_for_removal': bool(opt.deprecated_for_removal),
        'secret': bool(opt.secret),
    }


def main():
    conf = cfg.ConfigOpts()
    rabbit = cfg.OptGroup(name='oslo_messaging_rabbit')
    conf.register_group(rabbit)
    # 16.0.0 moved the pool options from base.base_opts into rabbit_opts.
    for opts in (impl_rabbit.rabbit_opts, rpc_amqp.amqp_opts,
                 getattr(base, 'base_opts', [])):
        conf.register_opts(opts, group=rabbit)
    groups = {
        'oslo_messaging_rabbit': [
            describe(conf._get_opt_info(n, 'oslo_messaging_rabbit')['opt'])
            for n in conf['oslo_messaging_rabbit']],
        'oslo_messaging_notifications': [
            describe(o) for o in notifier._notifier_opts],
        'DEFAULT': [describe(o) for o in
                    list(om_transport._transport_opts) +
                    list(rpc_client._client_opts)],
    }
    version = (os.environ.get('OSLO_MESSAGING_RELEASE') or
               importlib.metadata.version('oslo.messaging'))
    json.dump({'version': version,
               'groups': groups}, sys.stdout)


if __name__ == '__main__':
    main()
