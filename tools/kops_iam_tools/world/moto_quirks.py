"""moto's gaps that matter to kops-iam, worked around in this one place.

:func:`install` applies all of them, once per process (moto keeps its state per process,
so the workarounds are process-wide too). Every world calls it: the emulator's server,
the in-process test worlds and the benchmarks. Each workaround makes moto answer as AWS
does; none changes what the code under test sees from AWS.

1. **Delete markers notify** (moto 5.x sends no S3 event when a delete in a versioned
   bucket only adds a delete marker, the commonest way to delete a spec: ``aws s3 rm``).
   The backend method that adds the marker sends ``ObjectRemoved:DeleteMarkerCreated``
   through moto's own notification code (SQS, EventBridge, ...). docs/adr/0051. Deleting
   a delete marker itself (by version id) crashed moto's notification builder, which reads
   the ETag and size a marker does not have: a marker now has an empty ETag and size 0.
2. **NoSuchEntity for a role not in the profile**: ``RemoveRoleFromInstanceProfile`` for
   a role that is no longer in the profile raises ``list.remove``'s ``ValueError`` in moto
   (a 500 over HTTP); AWS answers ``NoSuchEntity`` (404).
3. **One request at a time**: moto's backends are not thread-safe (two threads removing
   the same role from a profile raised ``ValueError: list.remove(x)`` inside moto). Each
   request is dispatched under one lock, in-process (``mock_aws``) and served over HTTP,
   so moto applies whole calls one after another. Interleavings *between* calls, the ones
   a real race is made of, are untouched. SQS long polls are left out of the lock (they
   wait in moto for up to 20 s).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

#: Held while moto applies one request (see 3. above).
DISPATCH_LOCK: Final = threading.RLock()

_INSTALL_LOCK = threading.Lock()
_installed = False

#: The X-Amz-Target of an SQS long poll (JSON protocol), left out of the lock.
_LONG_POLL_TARGET: Final = "AmazonSQS.ReceiveMessage"


def install() -> None:
    """Apply every workaround in this process (idempotent)."""
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        _notify_delete_markers()
        _no_such_entity_for_a_role_not_in_its_profile()
        _serialize_dispatch()
        _installed = True


# -- 1. delete markers ---------------------------------------------------------------------


def _notify_delete_markers() -> None:
    from moto.s3 import models, notifications

    # what moto's notification builder reads from a key, for a marker
    models.FakeDeleteMarker.etag = ""  # type: ignore[attr-defined]
    models.FakeDeleteMarker.size = 0  # type: ignore[attr-defined]
    backend = models.S3Backend
    original = backend._set_delete_marker

    def set_delete_marker(self: Any, bucket_name: str, key_name: str) -> Any:
        marker = original(self, bucket_name, key_name)
        notifications.send_event(
            self.account_id,
            notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
            self.get_bucket(bucket_name),
            marker,
        )
        return marker

    setattr(backend, "_set_delete_marker", set_delete_marker)  # noqa: B010 - a patch


# -- 2. NoSuchEntity -----------------------------------------------------------------------


def _no_such_entity_for_a_role_not_in_its_profile() -> None:
    from moto.iam import models
    from moto.iam.exceptions import NotFoundException

    backend = models.IAMBackend
    original = backend.remove_role_from_instance_profile

    def remove_role_from_instance_profile(self: Any, profile_name: str, role_name: str) -> None:
        try:
            original(self, profile_name, role_name)
        except ValueError:
            raise NotFoundException(
                f"Role {role_name} is not in instance profile {profile_name}."
            ) from None

    setattr(  # noqa: B010 - a patch
        backend, "remove_role_from_instance_profile", remove_role_from_instance_profile
    )


# -- 3. one request at a time --------------------------------------------------------------


def _is_long_poll(target: Any) -> bool:
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    return bool(target == _LONG_POLL_TARGET)


def _serialize_dispatch() -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    in_process: Callable[..., Any] = BotocoreStubber.__call__

    def dispatch(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if _is_long_poll(request.headers.get("X-Amz-Target")):
            return in_process(self, event_name, request, **kwargs)
        with DISPATCH_LOCK:
            return in_process(self, event_name, request, **kwargs)

    setattr(BotocoreStubber, "__call__", dispatch)  # noqa: B010 - a patch

    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:  # pragma: no cover - moto without its server extra
        return
    served: Callable[..., Any] = DomainDispatcherApplication.__call__

    def serve(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if _is_long_poll(environ.get("HTTP_X_AMZ_TARGET")):
            return served(self, environ, start_response)
        with DISPATCH_LOCK:
            return served(self, environ, start_response)

    setattr(DomainDispatcherApplication, "__call__", serve)  # noqa: B010 - a patch
