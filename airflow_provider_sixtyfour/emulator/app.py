"""The emulator's HTTP routes (aiohttp), registered on the routes of the OpenAPI document (``emulator.routes``).

Every API route goes through one wrapper that counts the request, injects armed faults, checks the
API key and the per-key rate limit, and adds the ``X-RateLimit-*`` headers. Error bodies use the
API's three shapes: ``{"error", "message"}`` (401), ``{"detail": "..."}`` and the 422 validation list.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from airflow_provider_sixtyfour.emulator.clock import iso
from airflow_provider_sixtyfour.emulator.core import EmulatorCore
from airflow_provider_sixtyfour.emulator.faults import STORAGE_ROUTE, FaultRule
from airflow_provider_sixtyfour.emulator.inputs import CsvFileInput, InputRows, PayloadInput, SampleInput
from airflow_provider_sixtyfour.emulator.results import ResultFile
from airflow_provider_sixtyfour.emulator.routes import (
    CANCEL_RUN,
    DOWNLOAD_LINKS,
    GET_WORKFLOW,
    LIST_RUNS,
    LIST_WORKFLOWS,
    LIVE_STATUS,
    RUN_WORKFLOW,
    UPLOAD_CSV,
    ApiRoute,
)
from airflow_provider_sixtyfour.emulator.runs import Run, block_ids
from airflow_provider_sixtyfour.emulator.specs import SOURCE_BLOCKS, WorkflowSpec
from airflow_provider_sixtyfour.emulator.state import UploadedCsv
from airflow_provider_sixtyfour.emulator.stats import INVALID_KEY, NO_KEY, SIGNED_URL, UNMATCHED_ROUTE
from airflow_provider_sixtyfour.protocol.endpoints import (
    API_KEY_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    LIST_LIMIT_MAX,
    RESOURCE_HANDLE_SPEC_KEY,
    RESULT_FORMATS,
    SAVE_JSON_FORMATS,
    UPLOAD_FIELD_NAME,
    UPLOAD_HANDLE_KEY,
)
from airflow_provider_sixtyfour.protocol.statuses import LIST_STATUS_FILTERS

JSON = "application/json"
_API_FAULTS = frozenset({"status", "reset", "delay", "lose_response"})
_STORAGE_FAULTS = frozenset({"status", "reset", "delay", "truncate", "expire"})
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})
_CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
_LARGE_GENERATION_ROWS = 2000
MAX_BODY_BYTES = 64 * 1024 * 1024


class ApiError(Exception):
    """An error answer; raised by handlers, rendered by the route wrapper."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def detail_error(status: int, message: str) -> ApiError:
    """The ``{"detail": "..."}`` shape."""
    return ApiError(status, {"detail": message})


def validation_error(loc: list[str | int], msg: str, kind: str, value: Any = None, **ctx: Any) -> ApiError:
    """The 422 shape: ``{"detail": [{"loc", "msg", "type", "input"[, "ctx"]}]}`` as FastAPI writes it."""
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return ApiError(422, {"detail": [item]})


def unauthorized() -> ApiError:
    return ApiError(401, {"error": "Unauthorized", "message": "Invalid API key"})


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def drop_connection(request: web.BaseRequest, reset: bool = True) -> None:
    """Close the client's connection without an answer; with ``reset``, as a TCP RST."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def _fault_answer(rule: FaultRule) -> web.Response:
    status = int(rule.status or 500)
    headers: dict[str, str] = {}
    retry_after = rule.retry_after if rule.retry_after is not None else (1 if status == 429 else None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, round(retry_after)))
    if status == 429:
        headers.update({"X-RateLimit-Remaining": "0"})
        return json_response(
            {"error": "Too Many Requests", "message": rule.detail or "Rate limit exceeded"}, 429, headers
        )
    if status == 401:
        return json_response({"error": "Unauthorized", "message": rule.detail or "Invalid API key"}, 401, headers)
    if status in (502, 504) and rule.detail is None:
        # What a gateway in front of the API answers: HTML, not the API's JSON.
        reason = "Bad Gateway" if status == 502 else "Gateway Timeout"
        html = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        return web.Response(text=html, status=status, content_type="text/html", headers=headers)
    if status == 422:
        item = {
            "type": "value_error",
            "loc": ["body"],
            "msg": rule.detail or "Injected validation error",
            "input": None,
        }
        return json_response({"detail": [item]}, 422, headers)
    messages = {
        409: "Conflict: the request conflicts with the current state of the resource",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    return json_response({"detail": rule.detail or messages.get(status, f"Injected error {status}")}, status, headers)


def _query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise validation_error(
        ["query", name], "Input should be a valid boolean, unable to interpret input", "bool_parsing", raw
    )


def _uuid(value: str | None, loc: list[str | int]) -> str:
    if value is None or value == "":
        raise validation_error(loc, "Field required", "missing")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise validation_error(
            loc,
            "Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` "
            "followed by [0-9a-fA-F-]",
            "uuid_parsing",
            value,
        ) from None


@dataclass(frozen=True)
class Caller:
    """The organisation and key fingerprint of an authenticated request."""

    org_id: str
    label: str


Handler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


class EmulatorRoutes:
    """The aiohttp handlers over one :class:`EmulatorCore`."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    # ---- the wrapper every API route goes through -----------------------------------------------

    def api(self, route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        core = self.core

        async def wrapped(request: web.Request) -> web.StreamResponse:
            key = request.headers.get(API_KEY_HEADER)
            org_id = core.keys.get(key) if key else None
            label = core.labels[key] if org_id is not None and key is not None else (INVALID_KEY if key else NO_KEY)
            core.stats.count(route, label)
            rule = core.faults.draw(route, request.method, _API_FAULTS) if core.faults.may_fire(route) else None
            lose = False
            if rule is not None:
                core.stats.faults[rule.kind] += 1
                if rule.kind == "status":
                    return _fault_answer(rule)
                if rule.kind == "reset":
                    drop_connection(request)
                    return web.Response(status=500)
                if rule.kind == "delay":
                    await asyncio.sleep(rule.seconds)
                lose = rule.kind == "lose_response"
            if org_id is None:
                return json_response(unauthorized().body, 401)
            headers: dict[str, str] = {}
            limiter = core.limiter
            if limiter is not None:
                decision = limiter.check(label, time.monotonic())
                headers = decision.headers()
                if not decision.allowed:
                    core.stats.rate_limited[label] += 1
                    body = {"error": "Too Many Requests", "message": f"Rate limit of {limiter.limit} requests exceeded"}
                    return json_response(body, 429, headers)
            try:
                response = await handler(request, Caller(org_id, label))
            except ApiError as err:
                headers.update(err.headers)
                response = json_response(err.body, err.status)
            if headers:
                response.headers.update(headers)
            if lose:
                drop_connection(request)
            return response

        return wrapped

    # ---- runs ------------------------------------------------------------------------------------

    async def run_workflow(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        core = self.core
        workflow_id = request.query.get("workflow_id")
        if not workflow_id:
            raise validation_error(["query", "workflow_id"], "Field required", "missing")
        save_json = _query_bool(request, "save_json")
        body = await self._json_body(request)
        specs_override = body.get("specs_override")
        payload = body.get("webhook_payload")
        if specs_override is not None and not isinstance(specs_override, dict):
            raise validation_error(
                ["body", "specs_override"], "Input should be a valid dictionary", "dict_type", specs_override
            )
        if payload is not None:
            rows = payload if isinstance(payload, list) else [payload]
            if not isinstance(payload, (dict, list)) or not all(isinstance(r, dict) for r in rows):
                raise validation_error(
                    ["body", "webhook_payload"],
                    "Input should be a valid dictionary or a list of dictionaries",
                    "model_type",
                    payload,
                )
        idem_key = request.headers.get(IDEMPOTENCY_KEY_HEADER) or None
        fingerprint = hashlib.sha256(
            json.dumps([workflow_id, save_json, specs_override, payload], sort_keys=True, default=str).encode()
        ).hexdigest()
        if idem_key:
            known = core.store.idempotency.get((caller.label, idem_key))
            if known is not None:
                if known[0] != fingerprint:
                    raise detail_error(
                        409,
                        "Idempotency-Key was already used for a different request; use a new key for a new run",
                    )
                run = core.store.runs[known[1]]
                core.stats.idempotent_replays += 1
                return json_response(self._started(run, already=True))
        spec = core.store.workflows.get(workflow_id)
        if spec is None:
            raise detail_error(404, "Workflow not found")
        inputs = self._run_inputs(spec, caller, payload, specs_override)
        if save_json and not spec.allow_save_json:
            raise detail_error(403, "Saving results as JSON (save_json) is not enabled for your organization")
        org = core.store.org(caller.org_id)
        if org.credit_balance is not None and spec.credit_cost > org.credit_balance:
            raise detail_error(
                402,
                f"Insufficient credit balance: this run needs {spec.credit_cost:g} credits, "
                f"the organization has {org.credit_balance:g}",
            )
        run = core.store.start_run(
            spec,
            caller.org_id,
            caller.label,
            inputs,
            time.time(),
            save_json=save_json,
            specs_override=specs_override,
            idempotency_key=idem_key,
            fingerprint=fingerprint,
        )
        core.stats.runs_started += 1
        core.webhooks.schedule(run, f"{request.scheme}://{request.host}")
        return json_response(self._started(run, already=False))

    def _run_inputs(
        self, spec: WorkflowSpec, caller: Caller, payload: Any, specs_override: dict[str, Any] | None
    ) -> InputRows:
        first = spec.first_block
        if payload is not None:
            if first != "webhook":
                raise detail_error(
                    400,
                    f"webhook_payload can only be sent to workflows whose first block is 'webhook'; "
                    f"this workflow starts with '{first}'",
                )
            if isinstance(payload, list) and not payload:
                raise detail_error(400, "webhook_payload is an empty list: send at least one row")
            return PayloadInput.from_payload(payload)
        if first == "read_csv":
            handle = (specs_override or {}).get(RESOURCE_HANDLE_SPEC_KEY)
            if not handle:
                raise detail_error(
                    400,
                    f"This workflow starts with 'read_csv': upload the CSV with POST {UPLOAD_CSV.path} and pass its "
                    f"handle as specs_override.{RESOURCE_HANDLE_SPEC_KEY}",
                )
            upload = self.core.store.org(caller.org_id).uploads.get(str(handle))
            if upload is None:
                raise detail_error(400, f"Unknown {RESOURCE_HANDLE_SPEC_KEY} {str(handle)!r}: upload the CSV first")
            return upload.inputs
        return SampleInput(seed=uuid.uuid4().hex)

    @staticmethod
    def _started(run: Run, already: bool) -> dict[str, Any]:
        return {
            "status": "queued" if not already else run.status(time.time()),
            "workflow_id": run.spec.workflow_id,
            "job_id": run.job_id,
            "cache_config": None,
            "already_started": already,
        }

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise validation_error(["body", 0], f"JSON decode error: {err}", "json_invalid", None) from None
        if not isinstance(data, dict):
            raise validation_error(
                ["body"], "Input should be a valid dictionary or object", "model_attributes_type", data
            )
        return data

    async def list_runs(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        query = request.query
        status = query.get("status") or None
        if status is not None and status not in LIST_STATUS_FILTERS:
            raise validation_error(
                ["query", "status"],
                f"Value error, status must be one of {', '.join(sorted(LIST_STATUS_FILTERS))}",
                "value_error",
                status,
            )
        raw_limit = query.get("limit")
        limit = 100
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise validation_error(
                    ["query", "limit"],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                    raw_limit,
                ) from None
            if limit < 1:
                raise validation_error(
                    ["query", "limit"],
                    "Input should be greater than or equal to 1",
                    "greater_than_equal",
                    raw_limit,
                    ge=1,
                )
            if limit > LIST_LIMIT_MAX:
                raise validation_error(
                    ["query", "limit"],
                    f"Input should be less than or equal to {LIST_LIMIT_MAX}",
                    "less_than_equal",
                    raw_limit,
                    le=LIST_LIMIT_MAX,
                )
        now = time.time()
        runs = self.core.store.org(caller.org_id).select(now, status, query.get("workflow_id") or None, limit)
        return json_response(b"[" + b",".join(run.record_json(now) for run in runs) + b"]")

    def _find_run(self, caller: Caller, run_id: str) -> Run:
        run = self.core.store.find_run(caller.org_id, run_id)
        if run is None:
            raise detail_error(404, "Run not found")
        return run

    async def live_status(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        run = self._find_run(caller, _uuid(request.match_info.get("run_id"), ["path", "run_id"]))
        return json_response(run.live_status_json(time.time()))

    async def cancel_run(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        job_id = _uuid(request.query.get("job_id"), ["query", "job_id"])
        run = self._find_run(caller, job_id)
        self.core.stats.cancel_requests += 1
        status = self.core.store.cancel(run, time.time())
        return json_response({"job_id": run.job_id, "status": status})

    # ---- results ---------------------------------------------------------------------------------

    async def download_links(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        core = self.core
        run = self._find_run(caller, _uuid(request.match_info.get("run_id"), ["path", "run_id"]))
        fmt = request.query.get("format", "csv")
        if fmt not in RESULT_FORMATS:
            raise validation_error(
                ["query", "format"],
                f"Value error, format must be one of {', '.join(RESULT_FORMATS)}",
                "value_error",
                fmt,
            )
        if fmt in SAVE_JSON_FORMATS and not run.save_json:
            raise detail_error(
                400,
                f"{fmt.upper()} results are not available for this run: start the run with save_json=true to get them",
            )
        now = time.time()
        files = run.result_files(now, fmt, run.spec.result_bytes)
        base_url = f"{request.scheme}://{request.host}"
        ttl = core.link_ttl
        items = []
        for file in files:
            layout = await self._layout(file)
            url: str | None = core.signer.sign(base_url, core.bucket, run.job_id, file.filename, ttl)
            message = None
            rule = core.faults.draw(DOWNLOAD_LINKS.path, request.method, {"null_url"}, file.filename)
            if rule is not None:
                core.stats.faults[rule.kind] += 1
                url, message = None, "Could not create a signed download URL for this file"
            items.append(
                {
                    "filename": file.filename,
                    "storage_bucket": core.bucket,
                    "row_count": layout.row_count,
                    "block_number": file.block_number,
                    "created_at": iso(run.block_completed_at(file.block_number)),
                    "message": message,
                    "content_type": file.content_type,
                    "download_url": url,
                    "download_expires_in_seconds": max(1, round(ttl)),
                    "file_size": layout.size,
                    "results": core.files.inline_results(file, layout),
                }
            )
        return json_response(items)

    async def _layout(self, file: ResultFile) -> Any:
        if file.rows > _LARGE_GENERATION_ROWS:
            return await asyncio.get_running_loop().run_in_executor(None, self.core.files.layout, file)
        return self.core.files.layout(file)

    # ---- uploads ---------------------------------------------------------------------------------

    async def upload_csv(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        core = self.core
        missing = validation_error(["body", UPLOAD_FIELD_NAME], "Field required", "missing")
        if not request.content_type.startswith("multipart/"):
            raise missing
        reader = await request.multipart()
        handle_id = f"csv_{uuid.uuid4().hex}"
        path = core.upload_dir() / f"{handle_id}.csv"
        found = False
        size = 0
        filename = ""
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name != UPLOAD_FIELD_NAME:
                if isinstance(part, BodyPartReader):
                    await part.release()
                continue
            found = True
            filename = part.filename or ""
            content_type = (part.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if not filename.lower().endswith(".csv") and content_type not in _CSV_TYPES:
                await part.release()
                got = f"{filename or 'a file'!r} ({content_type or 'no content type'})"
                raise detail_error(400, f"The upload must be a CSV file (.csv, text/csv); got {got}")
            with path.open("wb") as handle:
                head = b""
                while True:
                    chunk = await part.read_chunk(1 << 16)
                    if not chunk:
                        break
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    size += len(chunk)
                    handle.write(chunk)
            break
        if not found:
            raise missing
        if size == 0:
            path.unlink(missing_ok=True)
            raise detail_error(400, "The uploaded file is empty: send a CSV with a header row and at least one row")
        if b"\x00" in head or not _utf8_prefix(head):
            path.unlink(missing_ok=True)
            raise detail_error(400, "The uploaded file is not a UTF-8 CSV (it looks binary)")
        try:
            inputs = await asyncio.get_running_loop().run_in_executor(None, CsvFileInput.scan, path)
        except (ValueError, UnicodeDecodeError) as err:
            path.unlink(missing_ok=True)
            raise detail_error(400, f"The uploaded file is not a usable CSV: {err}") from None
        upload = UploadedCsv(handle_id=handle_id, org_id=caller.org_id, filename=filename, size=size, inputs=inputs)
        core.store.org(caller.org_id).uploads[handle_id] = upload
        core.stats.uploads += 1
        return json_response(
            {
                UPLOAD_HANDLE_KEY: handle_id,
                "filename": filename,
                "file_size": size,
                "row_count": inputs.count,
                "columns": list(inputs.columns),
            }
        )

    # ---- workflows -------------------------------------------------------------------------------

    def _workflow(self, spec: WorkflowSpec, with_definition: bool) -> dict[str, Any]:
        store = self.core.store
        created = store.workflow_created.get(spec.workflow_id, self.core.started_at)
        data: dict[str, Any] = {
            "id": spec.workflow_id,
            "user_uuid": "user-emulator",
            "org_id": None,
            "name": spec.display_name,
            "description": spec.description,
            "status": "ready",
            "step": "deployed",
            "created_at": iso(created),
            "updated_at": iso(created),
            "last_run_date": iso(store.last_run.get(spec.workflow_id)),
            "workflow_definition": None,
        }
        if with_definition:
            ids = block_ids(spec)
            blocks: list[dict[str, Any]] = [
                {
                    "sequence_number": n,
                    "block_type": "source" if name in SOURCE_BLOCKS else "enrich",
                    "block_name": name,
                    "specs": {},
                    "block_id": ids[n - 1],
                }
                for n, name in enumerate(spec.block_names, start=1)
            ]
            edges = [{"from_block_id": a, "to_block_id": b, "condition": None} for a, b in itertools.pairwise(ids)]
            data["workflow_definition"] = {"blocks": blocks, "edges": edges}
        return data

    async def list_workflows(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        specs = self.core.store.workflows.values()
        return json_response([{**self._workflow(s, False), "org_id": caller.org_id} for s in specs])

    async def get_workflow(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        spec = self.core.store.workflows.get(request.match_info.get("workflow_id", ""))
        if spec is None:
            raise detail_error(404, "Workflow not found")
        return json_response({**self._workflow(spec, True), "org_id": caller.org_id})

    # ---- signed-URL storage ----------------------------------------------------------------------

    async def storage(self, request: web.Request) -> web.StreamResponse:
        core = self.core
        core.stats.count(STORAGE_ROUTE, SIGNED_URL)
        info = request.match_info
        bucket, job_id, filename = info["bucket"], info["job_id"], info["filename"]
        rule = None
        if core.faults.may_fire(STORAGE_ROUTE):
            rule = core.faults.draw(STORAGE_ROUTE, request.method, _STORAGE_FAULTS, filename)
        if rule is not None:
            core.stats.faults[rule.kind] += 1
            if rule.kind == "status":
                return _storage_error(int(rule.status or 500), "InternalError", rule.detail or "Injected storage error")
            if rule.kind == "reset":
                drop_connection(request)
                return web.Response(status=500)
            if rule.kind == "delay":
                await asyncio.sleep(rule.seconds)
            if rule.kind == "expire":
                return _storage_error(403, "AccessDenied", "Request has expired")
        problem = core.signer.check(
            bucket, job_id, filename, request.query.get("expires"), request.query.get("signature")
        )
        if problem == "Expired":
            return _storage_error(403, "AccessDenied", "Request has expired")
        if problem is not None:
            return _storage_error(
                403, problem, "The request signature we calculated does not match the signature you provided"
            )
        file = core.result_file(job_id, filename) if bucket == core.bucket else None
        if file is None:
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        layout = await self._layout(file)
        start, end = 0, layout.size
        status = 200
        headers = {
            "Content-Type": file.content_type,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        range_header = request.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, layout.size)
            if parsed is None:
                return _storage_error(416, "InvalidRange", "The requested range is not satisfiable")
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{layout.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        cutoff = end
        if rule is not None and rule.kind == "truncate":
            cutoff = start + int((end - start) * rule.fraction)
        core.stats.downloads_started += 1
        sent = await self._stream(response, file, layout, start, cutoff)
        core.stats.bytes_served += sent
        if cutoff < end:
            drop_connection(request, reset=False)
            return response
        await response.write_eof()
        core.stats.downloads_completed += 1
        return response

    async def _stream(self, response: web.StreamResponse, file: ResultFile, layout: Any, start: int, stop: int) -> int:
        """Send bytes ``[start, stop)``; natural rows are generated off the event loop, padding is not."""
        loop = asyncio.get_running_loop()
        chunks = self.core.files.iter_bytes(file, layout, start, stop)
        position = start
        offload = file.rows > _LARGE_GENERATION_ROWS
        sent = 0
        while True:
            if offload and position < layout.base_size:
                chunk = await loop.run_in_executor(None, next, chunks, None)
            else:
                chunk = next(chunks, None)
            if chunk is None:
                break
            await response.write(chunk)
            position += len(chunk)
            sent += len(chunk)
        return sent

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        self.core.stats.count(UNMATCHED_ROUTE, NO_KEY)
        return json_response({"detail": "Not Found"}, 404)


def _utf8_prefix(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the 4 KiB boundary is fine.
        return err.start >= len(head) - 3
    return True


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` (one range) as ``[start, end)``; None if unsatisfiable."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return None
            return max(0, size - length), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        return None
    return start, min(end, size)


def _storage_error(status: int, code: str, message: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return web.Response(text=body, status=status, content_type="application/xml")


def build_app(core: EmulatorCore) -> web.Application:
    """The aiohttp application: API routes, storage, admin routes, and a JSON 404 for anything else."""
    from airflow_provider_sixtyfour.emulator.admin import add_admin_routes

    routes = EmulatorRoutes(core)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.on_cleanup.append(core.webhooks.close)
    router = app.router
    handlers: dict[ApiRoute, Handler] = {
        RUN_WORKFLOW: routes.run_workflow,
        LIST_RUNS: routes.list_runs,
        CANCEL_RUN: routes.cancel_run,
        UPLOAD_CSV: routes.upload_csv,
        LIST_WORKFLOWS: routes.list_workflows,
        LIVE_STATUS: routes.live_status,
        DOWNLOAD_LINKS: routes.download_links,
        GET_WORKFLOW: routes.get_workflow,
    }
    # Plain paths before templated ones: ``/workflows/{workflow_id}`` would otherwise shadow ``/workflows/runs``.
    for route in sorted(handlers, key=lambda r: "{" in r.path):
        router.add_route(route.method, route.path, routes.api(route.path, handlers[route]))
    router.add_get(STORAGE_ROUTE, routes.storage)
    add_admin_routes(app, core)
    router.add_route("*", "/{tail:.*}", routes.not_found)
    return app
