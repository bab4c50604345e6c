"""A Python oslo.messaging peer configured only by an oslo.config file.

    conf_peer.py call CONFIG_FILE TOPIC        prints the JSON result of add(a=2, b=40)
    conf_peer.py serve CONFIG_FILE TOPIC SERVER
        serves add(a, b) on TOPIC; prints {"event": "ready"} once listening and
        stops when stdin closes

Everything else (transport_url, control_exchange, [oslo_messaging_rabbit])
comes from the file, read by oslo.config exactly as a service reads its
nova.conf, so a test can check that osloscope reading the same file talks to
it.
"""

import json
import os
import sys

from oslo_config import cfg

import oslo_messaging
from oslo_messaging import opts as messaging_opts
from oslo_messaging.rpc import dispatcher as rpc_dispatcher


def configure(path):
    # cfg.CONF, with every option registered up front: 14.0.3 reads metrics
    # options from the global object (see oslo_peer.py:configure).
    for group, opts in messaging_opts.list_opts():
        cfg.CONF.register_opts(opts, group=group)
    cfg.CONF.register_opts(rpc_dispatcher._dispatcher_opts)
    cfg.CONF(args=['--config-file', path], project='osloscope-conf-peer',
             default_config_files=[], default_config_dirs=[])


class Endpoint(object):
    def add(self, ctxt, a, b):
        return a + b


def main():
    command, path, topic = sys.argv[1:4]
    configure(path)
    transport = oslo_messaging.get_rpc_transport(cfg.CONF)
    if command == 'call':
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=topic), timeout=30)
        print(json.dumps(client.call({}, 'add', a=2, b=40)), flush=True)
        transport.cleanup()
        os._exit(0)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server=sys.argv[4]),
        [Endpoint()], executor='threading')
    server.start()
    print(json.dumps({'event': 'ready'}), flush=True)
    sys.stdin.read()
    server.stop()
    server.wait()
    transport.cleanup()
    os._exit(0)


if __name__ == '__main__':
    main()
