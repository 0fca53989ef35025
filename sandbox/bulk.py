"""Bulk query operations: bulkOperationRunQuery, currentBulkOperation, node(id:) and the export.

An operation is CREATED by the mutation, turns RUNNING when its background thread starts and
COMPLETED (or FAILED / CANCELED) when the JSONL file is written. The thread walks the plan of
`sandbox.bulk_query` over the store: the top connection streams from a snapshot of the store's
id index (one record at a time, so memory stays flat), every other field is answered by the
resolvers registered for normal requests (run with `context.bulk = True`), and the nested
connections of the queries Clientele runs read the records' own lists directly. Lines follow
Shopify's format (shopify-admin-api.md §4): one JSON object per node, nested connection nodes on
their own lines right after their parent with `"__parentId"`. The file is served from
`/_bulk/<unguessable token>.jsonl`; `bulk_operations/finish` is sent when the shop subscribed.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_abstract_type,
)

from sandbox import webhook_payloads as payloads
from sandbox.bulk_query import BulkQueryError, FieldPlan, plan_bulk_query
from sandbox.graphql.registry import RESOLVERS, SCOPES, TYPE_NAMES
from sandbox.graphql.registry import _plain as _plain_resolver
from sandbox.store import now_ms
from sandbox.webhook_events import emit

# orjson: compact UTF-8 JSON, one object per line, several times faster than the json module
# (a bulk export writes millions of lines).
dumps = orjson.dumps
NEWLINE = orjson.OPT_APPEND_NEWLINE
COUNT_EVERY = 5000  # publish objectCount this often while running
DEFAULT_SETTINGS = {"start_delay": 0.05}


@dataclass
class BulkOperation:
    id: int
    query: str
    shop: str
    status: str = "CREATED"
    type: str = "QUERY"
    error_code: str | None = None
    created_at: int = field(default_factory=now_ms)
    completed_at: int | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None
    cancel_requested: bool = False
    cpu_seconds: float = 0.0  # the export thread's CPU time (benchmarks; not served)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.id}"

    def as_graphql(self) -> dict:
        return {
            "__typename": "BulkOperation",
            "id": self.gid,
            "status": self.status,
            "type": self.type,
            "errorCode": self.error_code,
            "createdAt": payloads.iso_utc(self.created_at),
            "completedAt": payloads.iso_utc(self.completed_at),
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": str(self.file_size) if self.file_size is not None else None,
            "url": self.url,
            "partialDataUrl": self.partial_data_url,
            "query": self.query,
        }


class LightInfo:
    """The parts of graphql-core's ResolveInfo that resolvers read."""

    __slots__ = ("context", "field_name", "parent_type", "return_type", "schema")

    def __init__(self, context, plan: FieldPlan, schema) -> None:
        self.context = context
        self.field_name = plan.name
        self.parent_type = plan.parent_type
        self.return_type = plan.return_type
        self.schema = schema

    @property
    def variable_values(self) -> dict:
        return {}


# ------------------------------------------------------------------ registry per sandbox
def operations(store) -> dict[int, BulkOperation]:
    return store.extras.setdefault("bulk_operations", {})


def result_dir(sandbox) -> str:
    directory = sandbox.extras.get("bulk_dir")
    if directory is None:
        directory = tempfile.mkdtemp(prefix="sandbox-bulk-")
        sandbox.extras["bulk_dir"] = directory
    return directory


def result_files(sandbox) -> dict[str, str]:
    """token -> path of a finished result file (what `/_bulk/<token>.jsonl` serves)."""
    return sandbox.extras.setdefault("bulk_files", {})


def base_url(sandbox) -> str:
    server = sandbox.extras.get("server")
    return server.base_url if server is not None else ""


def current_operation(store, type_: str = "QUERY") -> BulkOperation | None:
    found = [op for op in operations(store).values() if op.type == type_]
    return max(found, key=lambda op: op.id) if found else None


def running_operation(store, type_: str = "QUERY") -> BulkOperation | None:
    for op in operations(store).values():
        if op.type == type_ and op.status in ("CREATED", "RUNNING", "CANCELING"):
            return op
    return None


def start(context, query: str, *, schema) -> tuple[BulkOperation | None, list[dict]]:
    """The bulkOperationRunQuery mutation: (operation, userErrors)."""
    store = context.store
    try:
        plans = plan_bulk_query(schema, query)
    except BulkQueryError as error:
        return None, [{"field": ["query"], "message": str(error), "code": "INVALID"}]
    with store.lock:
        running = running_operation(store)
        if running is not None:
            message = (
                "A bulk query operation for this app and shop is already in progress: "
                f"{running.gid}."
            )
            return None, [{"field": None, "message": message, "code": "OPERATION_IN_PROGRESS"}]
        operation = BulkOperation(id=store.sandbox.next_id(), query=query, shop=store.domain)
        operations(store)[operation.id] = operation
    exporter = Exporter(context, operation, plans, schema)
    threading.Thread(target=exporter.run, name=f"bulk-{operation.id}", daemon=True).start()
    return operation, []


def cancel(store, operation_id: int) -> tuple[BulkOperation | None, list[dict]]:
    operation = operations(store).get(operation_id)
    if operation is None:
        return None, [{"field": ["id"], "message": "Bulk operation does not exist"}]
    if operation.status not in ("CREATED", "RUNNING"):
        message = f"A bulk operation cannot be canceled when it is {operation.status.lower()}"
        return operation, [{"field": None, "message": message}]
    operation.cancel_requested = True
    operation.status = "CANCELING"
    return operation, []


# ------------------------------------------------------------------ the export
class Exporter:
    def __init__(self, context, operation: BulkOperation, plans: list[FieldPlan], schema):
        from dataclasses import replace

        self.context = replace(context, bulk=True, extensions={}, failed_mutations=set())
        self.store = context.store
        self.operation = operation
        self.plans = plans
        self.schema = schema
        self.infos: dict[int, LightInfo] = {}
        self.projectors: dict[int, Any] = {}
        self.count = 0

    def run(self) -> None:
        operation, sandbox = self.operation, self.store.sandbox
        settings = {**DEFAULT_SETTINGS, **self.store.extras.get("bulk_settings", {})}
        time.sleep(settings["start_delay"])
        token = secrets.token_urlsafe(24)
        path = os.path.join(result_dir(sandbox), f"{token}.jsonl")
        if operation.cancel_requested:
            self.finish("CANCELED")
            return
        operation.status = "RUNNING"
        cpu_started = time.thread_time()
        status, error_code = "COMPLETED", None
        try:
            self.check_scopes(self.plans)
            with open(path, "wb", buffering=1 << 20) as out:
                for plan in self.plans:
                    self.export_root(plan, out)
                    if operation.cancel_requested:
                        break
            if operation.cancel_requested:
                status = "CANCELED"
        except GraphQLError as error:
            status = "FAILED"
            code = (error.extensions or {}).get("code")
            error_code = "ACCESS_DENIED" if code == "ACCESS_DENIED" else "INTERNAL_SERVER_ERROR"
        except Exception:  # a resolver bug: Shopify reports INTERNAL_SERVER_ERROR
            status, error_code = "FAILED", "INTERNAL_SERVER_ERROR"
        operation.object_count = self.count
        operation.cpu_seconds = time.thread_time() - cpu_started
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size:
            result_files(sandbox)[token] = path
            url = f"{base_url(sandbox)}/_bulk/{token}.jsonl"
            operation.file_size = size
            if status == "COMPLETED":
                operation.url = url
            else:
                operation.partial_data_url = url
        elif os.path.exists(path):
            os.remove(path)
        operation.error_code = error_code
        self.finish(status)

    def finish(self, status: str) -> None:
        operation = self.operation
        operation.status = status
        operation.completed_at = now_ms()
        operation.finished.set()
        emit(
            self.store,
            "bulk_operations/finish",
            lambda: payloads.bulk_operation_finish(operation.as_graphql()),
        )

    def check_scopes(self, plans: list[FieldPlan]) -> None:
        from sandbox.graphql.errors import access_denied

        for plan in plans:
            scopes = SCOPES.get((plan.parent_type.name, plan.name))
            if scopes is not None and not (self.context.scopes & set(scopes)):
                raise access_denied(plan.name, scopes)
            self.check_scopes(plan.children)

    # -------------------------------------------------------------- walking
    def info(self, plan: FieldPlan) -> LightInfo:
        info = self.infos.get(id(plan))
        if info is None:
            info = self.infos[id(plan)] = LightInfo(self.context, plan, self.schema)
        return info

    def projector(self, plan: FieldPlan):
        """The compiled projection of a connection's node selection (cached per plan)."""
        cached = self.projectors.get(id(plan))
        if cached is None:
            cached = self.projectors[id(plan)] = compile_projector(
                plan.children, plan.node_type(), self.info
            )
        return cached

    def export_root(self, plan: FieldPlan, out) -> None:
        operation = self.operation
        write = out.write
        project = self.projector(plan)
        nested = [child for child in plan.children if child.connection]
        for number, node in enumerate(self.root_nodes(plan)):
            if operation.cancel_requested:
                return
            line = project(node)
            write(dumps(line, default=str, option=NEWLINE))
            self.count += 1
            operation.root_object_count += 1
            for child in nested:
                self.export_nested(child, node, line.get("id"), write)
            if number % COUNT_EVERY == 0:
                operation.object_count = self.count

    def export_nested(self, plan: FieldPlan, source, parent_id, write) -> None:
        project = self.projector(plan)
        nested = [child for child in plan.children if child.connection]
        for node in self.connection_nodes(plan, source):
            line = project(node)
            line["__parentId"] = parent_id
            write(dumps(line, default=str, option=NEWLINE))
            self.count += 1
            for child in nested:
                self.export_nested(child, node, line.get("id"), write)

    def root_nodes(self, plan: FieldPlan):
        stream = ROOT_STREAMS.get(plan.name)
        if stream is not None:
            yield from stream(self.store, plan.arguments)
            return
        yield from self.connection_nodes(plan, None)

    def connection_nodes(self, plan: FieldPlan, source):
        fast = NESTED_SOURCES.get((plan.parent_type.name, plan.name))
        if fast is not None and not plan.arguments:
            return fast(source)
        resolver = RESOLVERS.get((plan.parent_type.name, plan.name))
        if resolver is None:
            raise GraphQLError(
                f"The sandbox does not implement {plan.parent_type.name}.{plan.name}"
            )
        result = resolver(source, self.info(plan), **plan.arguments)
        if result is None:
            return ()
        if isinstance(result, dict):
            if result.get("nodes") is not None:
                return result["nodes"]
            return [edge["node"] for edge in result.get("edges") or []]
        return result


# ------------------------------------------------------------------ compiled projections
_PLAIN_CODE = _plain_resolver(lambda source: source).__code__


def plain_getter(resolver):
    """The `getter(source)` inside a resolver registered with `registry.attributes`, if it is one."""
    getter = getattr(resolver, "getter", None)
    if getter is not None:
        return getter
    if getattr(resolver, "__code__", None) is _PLAIN_CODE and resolver.__closure__:
        return resolver.__closure__[0].cell_contents
    return None


def _type_name(source, parent_type) -> str | None:
    if isinstance(parent_type, GraphQLObjectType) and not is_abstract_type(parent_type):
        return parent_type.name
    if isinstance(source, dict):
        return source.get("__typename")
    return TYPE_NAMES.get(type(source))


def compile_projector(plans: list[FieldPlan], parent_type, info_of):
    """fn(record) -> dict of the selected fields, generated as one dict display per type.

    A million records times twenty fields makes the per-field overhead the export's cost, so the
    selection is compiled once into straight-line Python that calls each field's getter.
    """
    fields = [plan for plan in plans if not plan.connection]
    abstract = is_abstract_type(parent_type) or any(p.fragments_on for p in fields)
    if abstract:
        return _generic_projector(fields, parent_type, info_of)
    namespace: dict[str, Any] = {}
    items = []
    for number, plan in enumerate(fields):
        key = plan.response_key
        if plan.name == "__typename":
            items.append(f"{key!r}: {parent_type.name!r}")
            continue
        resolver = RESOLVERS.get((parent_type.name, plan.name))
        getter = plain_getter(resolver) if resolver is not None else None
        if getter is not None:
            namespace[f"g{number}"] = getter
            expression = f"g{number}(s)"
        elif resolver is not None:
            namespace[f"r{number}"] = resolver
            namespace[f"i{number}"] = info_of(plan)
            namespace[f"a{number}"] = plan.arguments
            expression = f"r{number}(s, i{number}, **a{number})"
        else:  # dict-shaped values (money bags, email addresses, line items)
            expression = f"s.get({plan.name!r})"
        if plan.children:
            child_type = get_named_type(plan.return_type)
            namespace[f"p{number}"] = compile_projector(plan.children, child_type, info_of)
            if _is_list(plan.return_type):
                expression = (
                    f"(None if (v{number} := {expression}) is None "
                    f"else [p{number}(x) for x in v{number}])"
                )
            else:
                expression = (
                    f"(None if (v{number} := {expression}) is None else p{number}(v{number}))"
                )
        items.append(f"{key!r}: {expression}")
    source = "def project(s):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<bulk projection of {parent_type.name}>", "exec"), namespace)
    return namespace["project"]


def _generic_projector(fields: list[FieldPlan], parent_type, info_of):
    steps = []
    for plan in fields:
        child = None
        if plan.children:
            child = compile_projector(plan.children, get_named_type(plan.return_type), info_of)
        steps.append((plan, child, _is_list(plan.return_type)))

    def project(source) -> dict:
        type_name = _type_name(source, parent_type)
        line: dict[str, Any] = {}
        for plan, child, many in steps:
            if plan.fragments_on is not None and plan.fragments_on != type_name:
                continue
            if plan.name == "__typename":
                line[plan.response_key] = type_name
                continue
            resolver = RESOLVERS.get((type_name or parent_type.name, plan.name))
            if resolver is not None:
                value = resolver(source, info_of(plan), **plan.arguments)
            elif isinstance(source, dict):
                value = source.get(plan.name)
            else:
                raise GraphQLError(f"The sandbox does not implement {type_name}.{plan.name}")
            if child is not None and value is not None:
                value = [child(item) for item in value] if many else child(value)
            line[plan.response_key] = value
        return line

    return project


def _is_list(graphql_type) -> bool:
    while isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    return isinstance(graphql_type, GraphQLList)


# Top-level connections streamed from the store (name -> fn(store, arguments) -> records).
ROOT_STREAMS: dict[str, Any] = {}
# Nested connections read straight from the parent record ((type, field) -> fn(record)).
NESTED_SOURCES: dict[tuple[str, str], Any] = {}
