#!/usr/bin/env python3
"""Interop test client built on the official MCP Python SDK (`mcp==2.3.0`).

Connects to an MCP server over stdio, Streamable HTTP or (legacy) HTTP+SSE,
runs the scenario selected by the options, and prints ONE JSON object to
stdout describing what happened. Logs go to stderr. Exit status is 0 when
every requested step succeeded, 1 otherwise (the JSON is still printed, with
the failures under "errors"), 2 on bad usage.

    py_client.py [options] --stdio -- CMD [ARGS...]
    py_client.py [options] --http http://127.0.0.1:PORT/mcp
    py_client.py [options] --sse  http://127.0.0.1:PORT/sse

See tests/interop/README.md for the options and the output keys.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
import warnings
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.shared.exceptions import MCPError

log = logging.getLogger("py_client")

# resources/(un)subscribe still exist in the handshake-era revisions this client negotiates.
warnings.filterwarnings("ignore", message=r"resources/(un)?subscribe is removed")

SAMPLED_TEXT = "sampled-by-python"
SAMPLED_MODEL = "py-test-model"
ROOT_URI = "file:///tmp/py-root"
ROOT_NAME = "py-root"


# Every `server/discover` probe the SDK sends (mode auto), with its outcome: the
# SDK falls back to `initialize` silently, and the tests want to see that it did.
DISCOVER_ATTEMPTS: list[dict[str, Any]] = []
_send_discover = ClientSession.send_discover


async def _recording_send_discover(self: ClientSession, version: str) -> dict[str, Any]:
    try:
        raw = await _send_discover(self, version)
    except MCPError as e:
        DISCOVER_ATTEMPTS.append({"version": version, "error": {"code": e.code, "message": e.message}})
        raise
    except Exception as e:
        DISCOVER_ATTEMPTS.append({"version": version, "exception": f"{type(e).__name__}: {e}"})
        raise
    DISCOVER_ATTEMPTS.append({"version": version, "result": raw})
    return raw


ClientSession.send_discover = _recording_send_discover  # type: ignore[method-assign]


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"py_client: {what} is not valid JSON: {e}") from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    cmd: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(prog="py_client.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    t = p.add_mutually_exclusive_group(required=True)
    t.add_argument("--stdio", action="store_true", help="spawn `-- CMD ARGS...` and talk MCP over its stdin/stdout")
    t.add_argument("--http", metavar="URL", help="Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp")
    t.add_argument("--sse", metavar="URL", help="legacy HTTP+SSE endpoint, e.g. http://127.0.0.1:3001/sse")
    p.add_argument(
        "--mode",
        default="auto",
        help="SDK connect mode: 'auto' (default: probe server/discover, fall back to initialize), "
        "'legacy' (initialize handshake only) or a stateless version such as 2026-07-28",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="overall deadline in seconds (default 60)")
    p.add_argument("--header", action="append", default=[], metavar="K:V", help="extra HTTP header (--http only)")
    p.add_argument("--call", metavar="NAME", help="call this tool")
    p.add_argument("--args", default="{}", metavar="JSON", help="arguments for --call")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="call --call N times (default 1)")
    p.add_argument(
        "--allow-error",
        action="store_true",
        help="a JSON-RPC error (recorded under call.error) or an isError result from --call does not fail the run",
    )
    p.add_argument("--read", metavar="URI", help="read this resource")
    p.add_argument("--prompt", metavar="NAME", help="get this prompt")
    p.add_argument("--prompt-args", default="{}", metavar="JSON", help="arguments for --prompt (string values)")
    p.add_argument("--progress-tool", metavar="NAME", help="call this tool with a progress callback")
    p.add_argument("--progress-args", default="{}", metavar="JSON")
    p.add_argument("--sampling-tool", metavar="NAME", help="call this tool; answer sampling/createMessage")
    p.add_argument("--sampling-args", default="{}", metavar="JSON")
    p.add_argument("--elicit-tool", metavar="NAME", help="call this tool; accept elicitation/create")
    p.add_argument("--elicit-args", default="{}", metavar="JSON")
    p.add_argument(
        "--elicit-content",
        metavar="JSON",
        help="content to accept elicitations with (default: built from the requested schema)",
    )
    p.add_argument("--roots", action="store_true", help=f"answer roots/list with one root {ROOT_URI}")
    p.add_argument("--roots-tool", metavar="NAME", help="call this tool; answer roots/list (implies --roots)")
    p.add_argument("--roots-args", default="{}", metavar="JSON")
    p.add_argument("--complete-prompt", metavar="NAME", help="completion/complete for an argument of this prompt")
    p.add_argument(
        "--complete-arg", metavar="ARG=VALUE", help="the argument to complete and its partial value, e.g. department=E"
    )
    p.add_argument(
        "--subscribe",
        metavar="URI",
        help="resources/subscribe to URI, then wait for notifications/resources/updated naming it",
    )
    p.add_argument("--subscribe-tool", metavar="NAME", help="call this tool after subscribing (to trigger updates)")
    p.add_argument("--subscribe-args", default="{}", metavar="JSON")
    p.add_argument(
        "--subscribe-wait", type=float, default=10.0, metavar="SEC", help="how long to wait for the update (default 10)"
    )
    p.add_argument(
        "--wait-tools",
        metavar="NAMES",
        help="comma-separated tool names: re-list tools (bounded by --subscribe-wait) until all are listed",
    )
    p.add_argument(
        "--sampling", action="store_true", help="advertise sampling (answer it) even without --sampling-tool"
    )
    p.add_argument(
        "--elicitation", action="store_true", help="advertise elicitation (accept it) even without --elicit-tool"
    )
    p.add_argument("--no-list", action="store_true", help="skip listing resources/templates/prompts")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    ns = p.parse_args(argv)
    ns.cmd = cmd
    if ns.stdio and not cmd:
        p.error("--stdio needs a command after `--`")
    if not ns.stdio and cmd:
        p.error("a command after `--` is only valid with --stdio")
    ns.args = _json_arg(ns.args, "--args")
    ns.prompt_args = _json_arg(ns.prompt_args, "--prompt-args")
    ns.progress_args = _json_arg(ns.progress_args, "--progress-args")
    ns.sampling_args = _json_arg(ns.sampling_args, "--sampling-args")
    ns.elicit_args = _json_arg(ns.elicit_args, "--elicit-args")
    ns.roots_args = _json_arg(ns.roots_args, "--roots-args")
    ns.subscribe_args = _json_arg(ns.subscribe_args, "--subscribe-args")
    if ns.roots_tool:
        ns.roots = True
    if bool(ns.complete_prompt) != bool(ns.complete_arg) or (ns.complete_arg and "=" not in ns.complete_arg):
        p.error("--complete-prompt NAME needs --complete-arg ARG=VALUE (and vice versa)")
    if ns.subscribe_tool and not ns.subscribe:
        p.error("--subscribe-tool needs --subscribe URI")
    if ns.elicit_content is not None:
        ns.elicit_content = _json_arg(ns.elicit_content, "--elicit-content")
    return ns


def dump(model: Any) -> Any:
    """A pydantic model (or list of them) as wire-shaped JSON."""
    if isinstance(model, list):
        return [dump(m) for m in model]
    if hasattr(model, "model_dump"):
        return model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return model


def tool_result(result: types.CallToolResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "is_error": bool(result.is_error),
        "text": "\n".join(c.text for c in result.content if isinstance(c, types.TextContent)),
        "content": dump(list(result.content)),
    }
    if result.structured_content is not None:
        out["structured"] = result.structured_content
    return out


def value_for(prop: dict[str, Any]) -> Any:
    """A value satisfying one property of an elicitation form schema."""
    if "default" in prop:
        return prop["default"]
    if "const" in prop:
        return prop["const"]
    if prop.get("enum"):
        return prop["enum"][0]
    if prop.get("oneOf"):
        return prop["oneOf"][0].get("const")
    kind = prop.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        lo = prop.get("minimum", 1)
        return int(lo) if kind == "integer" else float(lo)
    if kind == "array":
        items = prop.get("items") or {}
        choices = items.get("enum") or [o.get("const") for o in items.get("anyOf") or items.get("oneOf") or []]
        return choices[:1] if choices else ["py-elicited"]
    fmt = prop.get("format")
    return {
        "email": "py@example.com",
        "uri": "https://example.com/py",
        "date": "2000-01-01",
        "date-time": "2000-01-01T00:00:00Z",
    }.get(fmt, "py-elicited")


def content_for(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: value_for(prop or {}) for name, prop in (schema.get("properties") or {}).items()}


class Scenario:
    def __init__(self, ns: argparse.Namespace) -> None:
        self.ns = ns
        self.out: dict[str, Any] = {"transport": "stdio" if ns.stdio else "http" if ns.http else "sse"}
        self.errors: list[str] = []
        self.progress: list[dict[str, Any]] = []
        self.sampling_requests: list[Any] = []
        self.elicit_requests: list[Any] = []
        self.elicit_responses: list[Any] = []
        self.roots_requests = 0
        self.notifications: list[str] = []
        self.updated: list[str] = []
        self.updated_event = anyio.Event()
        self.logs: list[Any] = []

    # ---- callbacks the server may invoke -------------------------------------------------
    async def on_sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        log.info("sampling/createMessage received")
        self.sampling_requests.append(dump(params))
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLED_TEXT),
            model=SAMPLED_MODEL,
            stop_reason="endTurn",
        )

    async def on_elicit(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        log.info("elicitation/create received (mode=%s)", getattr(params, "mode", "form"))
        self.elicit_requests.append(dump(params))
        if isinstance(params, types.ElicitRequestURLParams):
            self.elicit_responses.append(None)
            return types.ElicitResult(action="accept")
        content = self.ns.elicit_content if self.ns.elicit_content is not None else content_for(params.requested_schema)
        self.elicit_responses.append(content)
        return types.ElicitResult(action="accept", content=content)

    async def on_list_roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        log.info("roots/list received")
        self.roots_requests += 1
        return types.ListRootsResult(roots=[types.Root(uri=ROOT_URI, name=ROOT_NAME)])

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(dump(params))

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            log.warning("transport exception: %r", message)
            self.errors.append(f"transport: {message!r}")
            return
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if method:
            self.notifications.append(method)
        if method == "notifications/resources/updated":
            params = getattr(root, "params", None)
            uri = getattr(params, "uri", None)
            self.updated.append(str(uri))
            self.updated_event.set()
            self.updated_event = anyio.Event()

    # ---- plumbing ----------------------------------------------------------------------
    def target(self) -> Any:
        ns = self.ns
        if ns.stdio:
            # Pass the whole environment through (the SDK default keeps only HOME/PATH/...).
            return StdioServerParameters(command=ns.cmd[0], args=ns.cmd[1:], env=dict(os.environ))
        if ns.http:
            if ns.header:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                headers = dict(h.split(":", 1) for h in ns.header)
                headers = {k.strip(): v.strip() for k, v in headers.items()}
                return streamable_http_client(ns.http, http_client=httpx2.AsyncClient(headers=headers))
            return ns.http
        from mcp.client.sse import sse_client

        return sse_client(ns.sse)

    def client(self) -> Client:
        ns = self.ns
        kwargs: dict[str, Any] = dict(
            mode=ns.mode,
            cache=None,
            logging_callback=self.on_log,
            message_handler=self.on_message,
            client_info=types.Implementation(name="vmcp-py-interop", version="1.0.0"),
        )
        if ns.sampling or ns.sampling_tool:
            kwargs["sampling_callback"] = self.on_sampling
        if ns.elicitation or ns.elicit_tool:
            kwargs["elicitation_callback"] = self.on_elicit
        if ns.roots:
            kwargs["list_roots_callback"] = self.on_list_roots
        return Client(self.target(), **kwargs)

    async def step(self, key: str, fn: Any, *, allow_error: bool = False) -> None:
        try:
            self.out[key] = res = await fn()
            if isinstance(res, dict) and res.get("is_error") and not allow_error:
                self.errors.append(f"{key}: tool {res.get('name')} returned isError: {res.get('text', '')[:300]}")
        except MCPError as e:
            if allow_error:
                self.out[key] = {"error": {"code": e.code, "message": e.message, "data": e.data}}
                return
            self.errors.append(f"{key}: MCP error {e.code}: {e.message}")
            self.out[key] = {"error": {"code": e.code, "message": e.message, "data": e.data}}
            log.error("%s failed: MCP error %s: %s", key, e.code, e.message)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
            self.errors.append(f"{key}: {type(e).__name__}: {e}")
            self.out[key] = {"error": {"message": f"{type(e).__name__}: {e}"}}
            log.error("%s failed: %s", key, "".join(traceback.format_exception(e)))

    async def run(self) -> None:
        ns = self.ns
        async with self.client() as client:
            caps = client.server_capabilities
            info = client.server_info
            self.out["protocol_version"] = client.protocol_version
            self.out["server_name"] = info.name if info else None
            self.out["server_version"] = info.version if info else None
            self.out["server_capabilities"] = dump(caps)
            self.out["handshake"] = "initialize" if client.session.initialize_result is not None else "discover"
            log.info("connected: %s %s, protocol %s", self.out["server_name"], self.out["server_version"], client.protocol_version)

            async def list_tools() -> list[str]:
                names: list[str] = []
                cursor = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    names += [t.name for t in page.tools]
                    cursor = page.next_cursor
                    if not cursor:
                        return names

            if caps.tools is not None:
                await self.step("tools", list_tools)
            if ns.wait_tools:
                wanted = [n.strip() for n in ns.wait_tools.split(",") if n.strip()]

                async def wait_tools() -> list[str]:
                    # Some tools appear only after initialized (list_changed): re-list, bounded.
                    with anyio.move_on_after(ns.subscribe_wait):
                        while True:
                            names = await list_tools()
                            if all(w in names for w in wanted):
                                return names
                            await anyio.sleep(0.2)
                    raise TimeoutError(f"tools {wanted} not all listed within {ns.subscribe_wait}s")

                await self.step("tools", wait_tools)

            async def all_pages(fetch: Any, items: str, key: Any) -> list[Any]:
                # Follows nextCursor to the end; a cursor seen twice is an error, not a loop.
                out: list[Any] = []
                cursor = None
                seen: set[str] = set()
                while True:
                    page = await fetch(cursor=cursor)
                    out += [key(x) for x in getattr(page, items)]
                    cursor = page.next_cursor
                    if not cursor:
                        return out
                    if cursor in seen or len(seen) > 1000:
                        raise RuntimeError(f"{items}: nextCursor {cursor!r} repeats")
                    seen.add(cursor)

            if not ns.no_list and caps.resources is not None:

                async def list_resources() -> list[str]:
                    return await all_pages(client.list_resources, "resources", lambda r: str(r.uri))

                async def list_templates() -> list[str]:
                    return await all_pages(
                        client.list_resource_templates, "resource_templates", lambda t: t.uri_template
                    )

                await self.step("resources", list_resources)
                await self.step("resource_templates", list_templates)
            if not ns.no_list and caps.prompts is not None:

                async def list_prompts() -> list[str]:
                    return await all_pages(client.list_prompts, "prompts", lambda p: p.name)

                await self.step("prompts", list_prompts)

            if ns.call:

                async def call() -> dict[str, Any]:
                    ok = 0
                    result = None
                    for _ in range(max(ns.repeat, 1)):
                        result = await client.call_tool(ns.call, ns.args)
                        ok += 0 if result.is_error else 1
                    return {"name": ns.call, "calls": max(ns.repeat, 1), "ok": ok, **tool_result(result)}

                await self.step("call", call, allow_error=ns.allow_error)

            if ns.read:

                async def read() -> dict[str, Any]:
                    res = await client.read_resource(ns.read)
                    contents = dump(list(res.contents))
                    return {
                        "uri": ns.read,
                        "contents": contents,
                        "text": "\n".join(c.get("text", "") for c in contents),
                    }

                await self.step("resource", read)

            if ns.prompt:

                async def prompt() -> dict[str, Any]:
                    res = await client.get_prompt(ns.prompt, {k: str(v) for k, v in ns.prompt_args.items()})
                    msgs = dump(list(res.messages))
                    texts = [m["content"].get("text") for m in msgs if isinstance(m.get("content"), dict)]
                    return {
                        "name": ns.prompt,
                        "description": res.description,
                        "messages": msgs,
                        "text": "\n".join(t for t in texts if t),
                    }

                await self.step("prompt", prompt)

            if ns.progress_tool:

                async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                    log.info("progress %s/%s %s", progress, total, message or "")
                    self.progress.append({"progress": progress, "total": total, "message": message})

                async def progress_call() -> dict[str, Any]:
                    res = await client.call_tool(ns.progress_tool, ns.progress_args, progress_callback=on_progress)
                    return {"name": ns.progress_tool, **tool_result(res)}

                await self.step("progress_call", progress_call)
                if "error" not in self.out["progress_call"] and not self.progress:
                    self.errors.append("progress: no progress notification received")

            if ns.sampling_tool:

                async def sampling_call() -> dict[str, Any]:
                    res = await client.call_tool(ns.sampling_tool, ns.sampling_args)
                    return {"name": ns.sampling_tool, **tool_result(res)}

                await self.step("sampling_call", sampling_call)
                if "error" not in self.out["sampling_call"] and not self.sampling_requests:
                    self.errors.append("sampling: the server never sent sampling/createMessage")

            if ns.elicit_tool:

                async def elicit_call() -> dict[str, Any]:
                    res = await client.call_tool(ns.elicit_tool, ns.elicit_args)
                    return {"name": ns.elicit_tool, **tool_result(res)}

                await self.step("elicit_call", elicit_call)
                if "error" not in self.out["elicit_call"] and not self.elicit_requests:
                    self.errors.append("elicitation: the server never sent elicitation/create")

            if ns.roots_tool:

                async def roots_call() -> dict[str, Any]:
                    res = await client.call_tool(ns.roots_tool, ns.roots_args)
                    return {"name": ns.roots_tool, **tool_result(res)}

                await self.step("roots_call", roots_call)
                if "error" not in self.out["roots_call"] and not self.roots_requests:
                    self.errors.append("roots: the server never sent roots/list")

            if ns.complete_prompt:
                arg, _, value = ns.complete_arg.partition("=")

                async def complete() -> dict[str, Any]:
                    ref = types.PromptReference(type="ref/prompt", name=ns.complete_prompt)
                    res = await client.complete(ref, {"name": arg, "value": value})
                    return {
                        "prompt": ns.complete_prompt,
                        "argument": arg,
                        "value": value,
                        "values": list(res.completion.values),
                        "total": res.completion.total,
                        "has_more": res.completion.has_more,
                    }

                await self.step("completion", complete)

            if ns.subscribe:

                async def subscribe_modern() -> dict[str, Any]:
                    # 2026-07-28 has no resources/subscribe: a subscriptions/listen stream instead.
                    out: dict[str, Any] = {"uri": ns.subscribe, "via": "subscriptions/listen"}
                    async with client.listen(resource_subscriptions=[ns.subscribe]) as sub:
                        out["honored"] = list(sub.honored.resource_subscriptions or [])
                        if ns.subscribe_tool:
                            res = await client.call_tool(ns.subscribe_tool, ns.subscribe_args)
                            out["tool"] = {"name": ns.subscribe_tool, **tool_result(res)}
                        with anyio.move_on_after(ns.subscribe_wait):
                            async for event in sub:
                                uri = str(getattr(event, "uri", ""))
                                if uri:
                                    self.updated.append(uri)
                                if uri == ns.subscribe:
                                    break
                    out["updates"] = list(self.updated)
                    if ns.subscribe not in self.updated:
                        raise TimeoutError(
                            f"no resource update for {ns.subscribe} on the listen stream within {ns.subscribe_wait}s "
                            f"(updates seen: {self.updated})"
                        )
                    return out

                async def subscribe() -> dict[str, Any]:
                    if str(client.protocol_version) >= "2026-07-28":
                        return await subscribe_modern()
                    out: dict[str, Any] = {"uri": ns.subscribe, "via": "resources/subscribe"}
                    await client.session.subscribe_resource(ns.subscribe)
                    if ns.subscribe_tool:
                        res = await client.call_tool(ns.subscribe_tool, ns.subscribe_args)
                        out["tool"] = {"name": ns.subscribe_tool, **tool_result(res)}
                    with anyio.move_on_after(ns.subscribe_wait):
                        while ns.subscribe not in self.updated:
                            await self.updated_event.wait()
                    out["updates"] = list(self.updated)
                    if ns.subscribe not in self.updated:
                        raise TimeoutError(
                            f"no notifications/resources/updated for {ns.subscribe} within {ns.subscribe_wait}s "
                            f"(updates seen: {self.updated})"
                        )
                    await client.session.unsubscribe_resource(ns.subscribe)
                    return out

                await self.step("subscription", subscribe)

    def report(self) -> dict[str, Any]:
        out = self.out
        if self.ns.progress_tool:
            out["progress"] = [p["progress"] for p in self.progress]
            out["progress_detail"] = self.progress
        if self.ns.sampling_tool or self.ns.sampling:
            out["sampling"] = {
                "called": bool(self.sampling_requests),
                "count": len(self.sampling_requests),
                "requests": self.sampling_requests,
                "answered_text": SAMPLED_TEXT,
                "answered_model": SAMPLED_MODEL,
                "result": out.pop("sampling_call", None),
            }
        if self.ns.elicit_tool or self.ns.elicitation:
            out["elicitation"] = {
                "called": bool(self.elicit_requests),
                "count": len(self.elicit_requests),
                "requests": self.elicit_requests,
                "responses": self.elicit_responses,
                "result": out.pop("elicit_call", None),
            }
        if self.ns.roots:
            out["roots"] = {
                "requests": self.roots_requests,
                "provided": [ROOT_URI],
                "result": out.pop("roots_call", None),
            }
        out["discover"] = DISCOVER_ATTEMPTS
        out["notifications"] = self.notifications
        out["logs"] = self.logs
        out["errors"] = self.errors
        return out


def _leaves(e: BaseException) -> Any:
    """The non-group exceptions inside (possibly nested) exception groups."""
    if isinstance(e, BaseExceptionGroup):
        for x in e.exceptions:
            yield from _leaves(x)
    else:
        yield e


async def amain(sc: Scenario) -> None:
    with anyio.fail_after(sc.ns.timeout):
        await sc.run()


def main() -> int:
    ns = parse_args(sys.argv[1:])
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if ns.verbose else logging.WARNING,
        format="py_client %(levelname)s %(name)s: %(message)s",
    )
    log.setLevel(logging.DEBUG if ns.verbose else logging.INFO)
    sc = Scenario(ns)
    try:
        anyio.run(amain, sc)
    except BaseException as e:  # noqa: BLE001 - report anything, including ExceptionGroups and timeouts
        if isinstance(e, KeyboardInterrupt):
            raise
        leaves = list(_leaves(e))
        if any(isinstance(x, TimeoutError) for x in leaves):
            msg = f"timed out after {ns.timeout}s"
        else:
            msg = "; ".join(f"{type(x).__name__}: {x}" for x in leaves)
        sc.errors.append(f"fatal: {msg}")
        print(f"py_client: {msg}", file=sys.stderr)
        traceback.print_exception(e, file=sys.stderr)
    report = sc.report()
    print(json.dumps(report, sort_keys=True))
    sys.stdout.flush()
    if report["errors"]:
        for err in report["errors"]:
            print(f"py_client: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
