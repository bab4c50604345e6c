"""Golden peer for redaction: what oslo.utils' own masking does to the same inputs.

Run with Debian's /usr/bin/python3 (python3-oslo.utils 6.0.1) or a stack's
python3 (trixie 8.2.0, sid 10.2.0) through TEST_PYTHON.

stdin: one JSON document
    {"texts": ["...", ...], "dicts": [{...}, ...]}
stdout: one JSON document
    {"version": "<oslo.utils version>",
     "keys": strutils._SANITIZE_KEYS,
     "texts": [strutils.mask_password(t) for t in texts],
     "dicts": [strutils.mask_dict_password(d) for d in dicts]}
"""

import importlib.metadata
import json
import sys

from oslo_utils import strutils


def main():
    req = json.load(sys.stdin)
    out = {
        "version": importlib.metadata.version("oslo.utils"),
        "keys": list(strutils._SANITIZE_KEYS),
        "texts": [strutils.mask_password(t) for t in req["texts"]],
        "dicts": [strutils.mask_dict_password(d) for d in req["dicts"]],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
