"""moto at fleet scale: the few answers the fleet benchmark needs linear instead of quadratic.

moto keeps its state in plain lists and dicts and scans them on every request; at a few
dozen roles and messages (the tests) that costs nothing, at 20,000 roles and 10,000 queued
checks (the benchmark's 10,000-cluster fleet) it is what the benchmark would measure. The
cost is moto's own (real IAM and SQS index their data); none of it is the function's. What
:func:`active` changes, inside it only (the patches are installed once per process and do
nothing outside it, so other tests in the same process see moto as it is):

1. **``GetAccountAuthorizationDetails`` pages, in linear time.** moto finds each role's
   instance profiles by scanning every profile (``Role.instance_profile_list``): one answer
   costs O(roles x profiles). Here the roles of a page carry their profiles from an index
   built once per request (the same profiles, in the same order). And moto never pages (one
   answer, ``IsTruncated`` false, whatever ``MaxItems`` says); here the answer is cut as IAM
   cuts it: ``MaxItems`` items a page (IAM's default 100), ``Marker`` to continue, items in
   moto's order (users, groups, roles, policies).
2. **SQS receives and deletes in linear time.** moto checks each message it hands out
   against the retention period by computing *every* queue attribute, three of which scan
   every message (O(messages) per message received, and per message *sent*: a send reads
   one attribute the same way); it reads the clock twice per message per scan; and it
   deletes each message of a batch with two scans of the queue. Here the retention period
   is read directly, the clock once per scan (a send still scans, ~20x cheaper), and a
   ``DeleteMessageBatch`` is one scan.
3. **S3 prefix listings in time of the result.** moto's ``ListObjects(V2)`` with a prefix
   copies and scans every key of the bucket (10,000 specs: ~10,000 keys per drift check's
   ``instancegroup/`` listing). Here the keys under the prefix come from a sorted index of
   the bucket's key names, rebuilt only when a name is added or removed; moto's own code
   then lists them (delete markers, delimiters, markers and truncation as moto does them).

4. **Repeated bulk answers are served again while IAM is unchanged.** Every worker of a
   drift period reads the same pages of ``GetAccountAuthorizationDetails``; moto serializes
   each (~2 ms a role). The answer to the same request is kept until the next IAM write
   (any IAM request other than ``Get*``/``List*``, or :func:`iam_changed` after a write
   straight to the backend) and handed out again, byte for byte what moto answered.

5. **IAM finds a role or instance profile by name without scanning.** moto looks each one
   up by scanning every role (``GetRole``, ``PutRolePolicy``, ``AddRoleToInstanceProfile``,
   ... and ``CreateRole``'s own existence check) or every profile, though it keeps profiles
   by name: a first apply is 9 scans, 10,000 of them quadratic. Here roles are found in a
   name index kept as moto's own ``create_role``/``delete_role`` change them (rebuilt
   whenever the number of roles says something else changed them), profiles by their key.

And :data:`MOTO_CPU` meters moto's own CPU time per request, so a benchmark can say how much
of a period was the emulator's and how much the function's.

Each patch answers exactly what moto answers (``tests/integration/test_moto_scale.py`` compares
them on a small world, pagination included). docs/testing.md, "moto at fleet scale".
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Final

#: IAM's default page size of ``GetAccountAuthorizationDetails`` (no ``MaxItems``).
DEFAULT_MAX_ITEMS: Final = 100
#: The answer's lists, in the order their items are paged.
_LISTS: Final = (
    ("UserDetailList", "users"),
    ("GroupDetailList", "groups"),
    ("RoleDetailList", "roles"),
    ("Policies", "managed_policies"),
)

_lock = threading.Lock()
_installed = False
_active = 0


def is_active() -> bool:
    """Whether the fleet-scale answers are on."""
    return _active > 0


@contextlib.contextmanager
def active() -> Iterator[None]:
    """moto at fleet scale inside this block (process-wide, re-entrant)."""
    global _active
    install()
    with _lock:
        _active += 1
        BULK_ANSWERS.changed()
    try:
        yield
    finally:
        with _lock:
            _active -= 1


def install() -> None:
    """Install the patches (idempotent); they act only inside :func:`active`."""
    global _installed
    with _lock:
        if _installed:
            return
        _paged_authorization_details()
        _linear_sqs()
        _indexed_s3_prefix_listing()
        _metered_dispatch()
        _repeated_bulk_answers()
        _indexed_iam_lookups()
        _installed = True


# -- 1. GetAccountAuthorizationDetails ---------------------------------------------------


class _RoleView:
    """A moto ``Role`` whose instance profiles were looked up in an index (moto's
    serializer reads ``instance_profile_list``; everything else is the role's own, its
    class too: the serializer finds ``RoleName`` as ``name`` by the class's name)."""

    __slots__ = ("_role", "instance_profile_list")

    def __init__(self, role: Any, profiles: list[Any]) -> None:
        self._role = role
        self.instance_profile_list = profiles

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._role)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._role, name)


def profiles_by_role(profiles: Any) -> dict[int, list[Any]]:
    """Each role's instance profiles (by ``id`` of the role), in moto's profile order."""
    index: dict[int, list[Any]] = {}
    for profile in profiles:
        for role in profile.roles:
            held = index.setdefault(id(role), [])
            if profile not in held:
                held.append(profile)
    return index


def _paged_authorization_details() -> None:
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    original = IamResponse.get_account_authorization_details

    def get_account_authorization_details(self: Any) -> Any:
        if not is_active():
            return original(self)
        details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
        max_items = self._get_int_param("MaxItems", DEFAULT_MAX_ITEMS)
        start = int(self._get_param("Marker") or 0)
        stop = start + max_items
        result: dict[str, Any] = {}
        offset = 0
        total = 0
        index: dict[int, list[Any]] | None = None
        for field, key in _LISTS:
            items = list(details[key])
            total += len(items)
            page = items[max(0, start - offset) : max(0, stop - offset)]
            offset += len(items)
            if field == "RoleDetailList" and page:
                index = profiles_by_role(details["instance_profiles"])
                page = [_RoleView(role, index.get(id(role), [])) for role in page]
            result[field] = page
        result["IsTruncated"] = stop < total
        if stop < total:
            result["Marker"] = str(stop)
        return ActionResult(result)

    setattr(  # noqa: B010 - a patch
        IamResponse, "get_account_authorization_details", get_account_authorization_details
    )


# -- 2. SQS -------------------------------------------------------------------------------


def _linear_sqs() -> None:
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Queue, SQSBackend

    messages_of = Queue.messages.fget  # type: ignore[attr-defined]

    def messages(self: Any) -> list[Any]:
        if not is_active():
            return messages_of(self)  # type: ignore[no-any-return]
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    setattr(Queue, "messages", property(messages))  # noqa: B010 - a patch

    delayed_of = Queue.approximate_number_of_messages_delayed.fget  # type: ignore[attr-defined]

    def delayed(self: Any) -> int:
        if not is_active():
            return delayed_of(self)  # type: ignore[no-any-return]
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    not_visible_of = Queue.approximate_number_of_messages_not_visible.fget  # type: ignore[attr-defined]

    def not_visible(self: Any) -> int:
        if not is_active():
            return not_visible_of(self)  # type: ignore[no-any-return]
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    setattr(Queue, "approximate_number_of_messages_delayed", property(delayed))  # noqa: B010
    setattr(Queue, "approximate_number_of_messages_not_visible", property(not_visible))  # noqa: B010

    retained = SQSBackend.is_message_valid_based_on_retention_period

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        if not is_active():
            return retained(self, queue_name, message)
        period = float(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    setattr(  # noqa: B010 - a patch
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
    )

    delete_batch = SQSBackend.delete_message_batch

    def delete_message_batch(
        self: Any, queue_name: str, receipts: list[dict[str, Any]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        if not is_active():
            return delete_batch(self, queue_name, receipts)
        queue = self.get_queue(queue_name)
        already = {r["ReceiptHandle"] for r in receipts} & queue.deleted_messages
        wanted = {r["ReceiptHandle"] for r in receipts} - already
        found: set[str] = set()
        kept = []
        for message in queue._messages:
            handles = message.all_receipt_handles
            hit = wanted.intersection(handles)
            if hit:
                found |= hit
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(handles)
                continue
            kept.append(message)
        queue._messages = kept
        success: list[str] = []
        errors: list[dict[str, str]] = []
        for receipt in receipts:
            handle = receipt["ReceiptHandle"]
            if handle in found or handle in already:
                success.append(receipt["Id"])
            else:
                errors.append(
                    {
                        "Id": receipt["Id"],
                        "SenderFault": True,  # type: ignore[dict-item]
                        "Code": "ReceiptHandleIsInvalid",
                        "Message": f'The input receipt handle "{handle}" is not a valid '
                        "receipt handle.",
                    }
                )
        return success, errors

    setattr(SQSBackend, "delete_message_batch", delete_message_batch)  # noqa: B010 - a patch


# -- 3. S3 prefix listings ----------------------------------------------------------------

#: Attributes this module keeps on a bucket's key store (a ``dict`` subclass with a
#: ``__dict__``): its name generation, and the sorted names of a generation.
_GENERATION: Final = "_fleet_scale_generation"
_SORTED: Final = "_fleet_scale_sorted"


def _bump(store: Any) -> None:
    """A key name was added to or removed from ``store``."""
    setattr(store, _GENERATION, getattr(store, _GENERATION, 0) + 1)


def sorted_names(store: Any) -> list[str]:
    """The key names of ``store``, sorted (rebuilt only after a name was added or removed)."""
    generation = getattr(store, _GENERATION, 0)
    cached = getattr(store, _SORTED, None)
    if cached is None or cached[0] != generation:
        cached = (generation, sorted(dict.keys(store)))
        setattr(store, _SORTED, cached)
    names: list[str] = cached[1]
    return names


def _indexed_s3_prefix_listing() -> None:
    from moto.s3.models import FakeTableStorageBucket, S3Backend
    from moto.s3.utils import _VersionedKeyStore

    # a key name added or removed bumps its store's generation (a new version does not)
    set_item = _VersionedKeyStore.__setitem__

    def setitem(self: Any, key: str, value: Any) -> Any:
        if not dict.__contains__(self, key):
            _bump(self)
        return set_item(self, key, value)

    set_list = _VersionedKeyStore.setlist

    def setlist(self: Any, key: Any, list_: Any) -> Any:
        if not dict.__contains__(self, key):
            _bump(self)
        return set_list(self, key, list_)

    pop = _VersionedKeyStore.pop

    def pop_key(self: Any, key: str) -> None:
        _bump(self)
        pop(self, key)

    def delitem(self: Any, key: str) -> None:
        _bump(self)
        dict.__delitem__(self, key)

    setattr(_VersionedKeyStore, "__setitem__", setitem)  # noqa: B010 - a patch
    setattr(_VersionedKeyStore, "setlist", setlist)  # noqa: B010 - a patch
    setattr(_VersionedKeyStore, "pop", pop_key)  # noqa: B010 - a patch
    setattr(_VersionedKeyStore, "__delitem__", delitem)  # noqa: B010 - a patch

    list_objects = S3Backend.list_objects

    def indexed_list_objects(
        self: Any,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        marker: str | None,
        max_keys: int | None,
    ) -> Any:
        store = getattr(bucket, "keys", None)
        if (
            not is_active()
            or not prefix
            or not isinstance(store, _VersionedKeyStore)
            or isinstance(bucket, FakeTableStorageBucket)
        ):
            return list_objects(self, bucket, prefix, delimiter, marker, max_keys)
        names = sorted_names(store)
        subset = _VersionedKeyStore()
        for name in names[bisect.bisect_left(names, prefix) :]:
            if not name.startswith(prefix):
                break
            dict.__setitem__(subset, name, dict.__getitem__(store, name))
        view: Any = _BucketView(bucket, subset)
        return list_objects(self, view, prefix, delimiter, marker, max_keys)

    setattr(S3Backend, "list_objects", indexed_list_objects)  # noqa: B010 - a patch


class _BucketView:
    """A bucket whose ``keys`` are only those under a prefix (the rest is the bucket's)."""

    __slots__ = ("_bucket", "keys")

    def __init__(self, bucket: Any, keys: Any) -> None:
        self._bucket = bucket
        self.keys = keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bucket, name)


# -- moto's own CPU -----------------------------------------------------------------------


class MotoCpu:
    """CPU time moto spends answering requests (thread CPU time around each in-process
    dispatch: the answering thread's own, so other threads' work is not in it), in all and
    per thread. Counts only inside :func:`active`; installed by :func:`install`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.seconds = 0.0
        self.requests = 0

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds
            self.requests += 1
        self._local.seconds = self.thread_seconds() + seconds

    def thread_seconds(self) -> float:
        """moto's CPU time on the calling thread so far."""
        return float(getattr(self._local, "seconds", 0.0))

    def take(self) -> tuple[float, int]:
        """``(seconds, requests)`` since the last take."""
        with self._lock:
            taken = (self.seconds, self.requests)
            self.seconds = 0.0
            self.requests = 0
        return taken


#: moto's CPU time in this process (see :class:`MotoCpu`).
MOTO_CPU: Final = MotoCpu()


def _metered_dispatch() -> None:
    import time

    from moto.core.botocore_stubber import BotocoreStubber

    dispatch = BotocoreStubber.__call__

    def metered(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if not is_active():
            return dispatch(self, event_name, request, **kwargs)
        start = time.thread_time()
        try:
            return dispatch(self, event_name, request, **kwargs)
        finally:
            MOTO_CPU.add(time.thread_time() - start)

    setattr(BotocoreStubber, "__call__", metered)  # noqa: B010 - a patch


# -- 4. repeated bulk answers ---------------------------------------------------------------

_IAM_HOST: Final = "iam.amazonaws.com"
_BULK_ACTION: Final = "GetAccountAuthorizationDetails"


class _BulkAnswers:
    """moto's answers to ``GetAccountAuthorizationDetails`` requests at one IAM generation."""

    def __init__(self) -> None:
        self.generation = 0
        self.answers: dict[tuple[int, str, bytes], Any] = {}
        self.served = 0
        self.computed = 0

    def changed(self) -> None:
        self.generation += 1
        self.answers.clear()


BULK_ANSWERS: Final = _BulkAnswers()


def iam_changed() -> None:
    """Say IAM changed without a request (a write straight to moto's backend)."""
    BULK_ANSWERS.changed()


def _account_state() -> int:
    """Which IAM state moto holds (a new mock, a reset: new role dicts)."""
    from moto.iam.models import iam_backends

    from kops_iam_tools.world.names import ACCOUNT  # the worlds' account: moto's default

    return id(iam_backends[ACCOUNT]["aws"].roles)


def iam_action(request: Any) -> str | None:
    """The IAM action of a botocore request (query protocol), ``None`` for other services."""
    from urllib.parse import parse_qs

    if _IAM_HOST not in str(request.url):
        return None
    body = request.body or b""
    if hasattr(body, "read"):
        return None
    text = body.decode() if isinstance(body, bytes) else str(body)
    actions = parse_qs(text).get("Action")
    return actions[0] if actions else None


def _repeated_bulk_answers() -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    process = BotocoreStubber.process_request

    def process_request(self: Any, request: Any) -> Any:
        if not is_active():
            return process(self, request)
        action = iam_action(request)
        if action is None:
            return process(self, request)
        if action != _BULK_ACTION:
            if not action.startswith(("Get", "List")):
                BULK_ANSWERS.changed()
            return process(self, request)
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        key = (_account_state(), str(request.url), body)
        answer = BULK_ANSWERS.answers.get(key)
        if answer is None:
            answer = process(self, request)
            status = answer[0] if answer else 0
            if status == 200:
                BULK_ANSWERS.answers[key] = answer
            BULK_ANSWERS.computed += 1
        else:
            BULK_ANSWERS.served += 1
        return answer

    setattr(BotocoreStubber, "process_request", process_request)  # noqa: B010 - a patch


# -- 5. IAM lookups by name -----------------------------------------------------------------

_ROLE_INDEX: Final = "_fleet_scale_role_index"


def _role_index(backend: Any) -> dict[str, Any]:
    """Role by name, rebuilt when the number of roles no longer matches the index."""
    held = backend.__dict__.get(_ROLE_INDEX)
    if held is None or held[0] != len(backend.roles):
        held = [len(backend.roles), {role.name: role for role in backend.roles.values()}]
        backend.__dict__[_ROLE_INDEX] = held
    index: dict[str, Any] = held[1]
    return index


def _indexed_iam_lookups() -> None:
    from moto.iam.exceptions import EntityAlreadyExists
    from moto.iam.models import IAMBackend

    get_role = IAMBackend.get_role

    def indexed_get_role(self: Any, role_name: str) -> Any:
        if is_active():
            role = _role_index(self).get(role_name)
            if role is not None and self.roles.get(role.id) is role and role.name == role_name:
                return role
        return get_role(self, role_name)  # moto's own (the NoSuchEntity included)

    create_role = IAMBackend.create_role

    def indexed_create_role(self: Any, role_name: str, *args: Any, **kwargs: Any) -> Any:
        if not is_active():
            return create_role(self, role_name, *args, **kwargs)
        index = _role_index(self)
        if role_name in index:
            raise EntityAlreadyExists(f"Role with name {role_name} already exists.")
        # moto's own existence check scans every role: the index answered it already
        self.get_roles = tuple
        try:
            role = create_role(self, role_name, *args, **kwargs)
        finally:
            del self.get_roles
        held = self.__dict__[_ROLE_INDEX]
        held[0] += 1
        held[1][role_name] = role
        return role

    delete_role = IAMBackend.delete_role

    def indexed_delete_role(self: Any, role_name: str) -> None:
        delete_role(self, role_name)
        held = self.__dict__.get(_ROLE_INDEX)
        if held is not None and held[1].pop(role_name, None) is not None:
            held[0] -= 1

    get_profile = IAMBackend.get_instance_profile

    def indexed_get_instance_profile(self: Any, profile_name: str) -> Any:
        if is_active():
            profile = self.instance_profiles.get(profile_name)
            if profile is not None and profile.name == profile_name:
                return profile
        return get_profile(self, profile_name)

    setattr(IAMBackend, "get_role", indexed_get_role)  # noqa: B010 - a patch
    setattr(IAMBackend, "create_role", indexed_create_role)  # noqa: B010 - a patch
    setattr(IAMBackend, "delete_role", indexed_delete_role)  # noqa: B010 - a patch
    setattr(IAMBackend, "get_instance_profile", indexed_get_instance_profile)  # noqa: B010
