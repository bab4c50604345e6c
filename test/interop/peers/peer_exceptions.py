"""Exceptions raised by the interop RPC server peer.

They live in their own module so that their ``module`` name on the wire is
stable (``peer_exceptions``): a client that lists it in
``allowed_remote_exmods`` rebuilds them as ``<Class>_Remote`` instances
(oslo_messaging/_drivers/common.py:deserialize_remote_exception), a client
that does not gets a ``RemoteError``.

The shape follows nova.exception.NovaException: a ``msg_fmt`` filled from the
keyword arguments, the keyword arguments kept in ``self.kwargs`` (oslo sends
them as the failure's ``kwargs``) and an HTTP-ish ``code`` among them.
"""


class PeerException(Exception):
    msg_fmt = "An unknown exception occurred."
    code = 500

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if 'code' not in self.kwargs:
            self.kwargs['code'] = self.code
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class InstanceNotFound(PeerException):
    msg_fmt = "Instance %(instance_id)s could not be found."
    code = 404
