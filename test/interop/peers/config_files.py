"""Golden peer for configuration files: what oslo.config reads from them.

Reads JSON on stdin: {"schema": {group: {name: definition}}, "cases": [{
"sources": [["file"|"dir", path], ...], "extra": [[group, name], ...]}]}
and writes one result per case on stdout as a JSON array.

For each case it builds a fresh cfg.ConfigOpts, registers the options of
the schema (osloscope's registry, sent by the test, so only oslo.config's
parsing is compared, whatever oslo.messaging release is installed) plus a
StrOpt for each `extra` (the way a service registers its own options, such
as nova's my_ip), parses the command line `--config-file F` / `--config-dir
D` in the given order, and reads every schema option:
{"ok": true, "values": {"group.name": {"set": bool, "value": ...}}} where
`set` means the value came from a file (LocationInfo user), or
{"ok": false, "stage": "parse"|"get", "error": "<ExceptionClass>",
"option": "group.name"} for the first failure. Messages are left out: they
can echo a file's line, secrets included.
"""

import json
import math
import sys

from oslo_config import cfg

TYPES = {
    'boolean': lambda n, d, kw: cfg.BoolOpt(n, **kw),
    'integer': lambda n, d, kw: cfg.IntOpt(n, min=d.get('min'), max=d.get('max'), **kw),
    'float': lambda n, d, kw: cfg.FloatOpt(n, min=d.get('min'), max=d.get('max'), **kw),
    'string': lambda n, d, kw: cfg.StrOpt(n, choices=d.get('choices'), **kw),
    'list': lambda n, d, kw: cfg.ListOpt(n, **kw),
    'multistring': lambda n, d, kw: cfg.MultiStrOpt(n, **kw),
}


def plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def build(schema, extra):
    conf = cfg.ConfigOpts()
    for group, opts in schema.items():
        registered = []
        for name, d in opts.items():
            deprecated = d.get('deprecatedNames', [])
            kw = {'default': d.get('default'), 'secret': d.get('secret', False),
                  'deprecated_opts': [cfg.DeprecatedOpt(x['name'], group=x['group'])
                                      for x in deprecated if x['name']]}
            # oslo spells "same name, other group" deprecated_group=...
            for x in deprecated:
                if not x['name']:
                    kw['deprecated_group'] = x['group']
            registered.append(TYPES[d['type']](name, d, kw))
        conf.register_opts(registered, group=None if group == 'DEFAULT' else group)
    for group, name in extra:
        conf.register_opt(cfg.StrOpt(name), group=None if group == 'DEFAULT' else group)
    return conf


def run(schema, case):
    conf = build(schema, case.get('extra', []))
    args = []
    for kind, path in case['sources']:
        args += ['--config-file' if kind == 'file' else '--config-dir', path]
    try:
        conf(args=args, project=None, default_config_files=[],
             default_config_dirs=[])
    except BaseException as exc:  # noqa: BLE001 - every failure is data here
        return {'ok': False, 'stage': 'parse', 'error': type(exc).__name__}
    values = {}
    for group, opts in schema.items():
        g = None if group == 'DEFAULT' else group
        for name in opts:
            key = '%s.%s' % (group, name)
            try:
                value = conf[name] if g is None else conf[g][name]
                loc = conf.get_location(name, g)
            except BaseException as exc:  # noqa: BLE001
                return {'ok': False, 'stage': 'get', 'option': key,
                        'error': type(exc).__name__}
            values[key] = {'set': loc is not None and
                           loc.location == cfg.Locations.user,
                           'value': plain(value)}
    return {'ok': True, 'values': values}


def main():
    sys.setrecursionlimit(400)
    data = json.load(sys.stdin)
    json.dump([run(data['schema'], c) for c in data['cases']], sys.stdout)


if __name__ == '__main__':
    main()
