#!/usr/bin/env python3
"""End-to-end checks of switchboard with the official MCP Python SDK (`mcp`, pinned 2.3.0).

Run by scripts/e2e-clients.sh, in the venv scripts/e2e/setup.sh makes. Connects to switchboard
(a stdio command, or a Streamable HTTP URL with a bearer token), then checks: the handshake,
tools/list, a plugin tool, the unified `search` and `fetch` over the corpus the caller made,
resources (list, read), prompts (list, get), an approval switchboard asks (--approval: a yes
runs the tool, a no refuses it; by elicitation, or on 2026-07-28 by the input_required round
trip), and elicitation answered with accept and with decline (and sampling). Prints one `PASS <label>: <check>` or `FAIL <label>: <check>: <why>`
line per check; exits 1 if any failed.

Usage:
  python py_client.py --label NAME --word WORD --expect-hits N [--mode auto|legacy|2026-07-28]
                      [--no-asks REASON] [--approval TOOL]
                      (--url URL --token TOKEN | -- SERVER_CMD [ARGS...])

--mode is the SDK's: auto (its default) probes `server/discover` and so settles on 2026-07-28
with switchboard; legacy sends `initialize` (2025-11-25). --no-asks skips the elicitation and
sampling checks, printing REASON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import mcp.types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext

FAILED = 0
# How the elicitation callback answers; the checks switch it between calls.
ELICIT = {"action": "accept", "seen": 0}
SAMPLING_REPLY = "canned sampling reply from the python e2e client"


def report(label: str, check: str, ok: bool, detail: str = "") -> bool:
    global FAILED
    if ok:
        print(f"PASS {label}: {check}" + (f" ({detail})" if detail else ""), flush=True)
    else:
        FAILED += 1
        print(f"FAIL {label}: {check}: {detail}", flush=True)
    return ok


def fill_from_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An 'accept' answer: each property's default, else a dummy value of its type."""
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "default" in prop:
            out[name] = prop["default"]
            continue
        kind = prop.get("type")
        if kind == "string":
            if "enum" in prop:
                out[name] = prop["enum"][0]
            elif "oneOf" in prop:
                out[name] = prop["oneOf"][0]["const"]
            else:
                out[name] = {"email": "e2e@example.com", "uri": "https://example.com",
                             "date": "2000-01-01", "date-time": "2000-01-01T00:00:00Z"}.get(
                                 prop.get("format"), f"e2e-{name}")
        elif kind == "boolean":
            out[name] = True
        elif kind == "integer":
            out[name] = int(prop.get("minimum", 1))
        elif kind == "number":
            out[name] = float(prop.get("minimum", 1.5))
        elif kind == "array":
            items = prop.get("items") or {}
            out[name] = (items.get("enum") or [c["const"] for c in items.get("anyOf", [])])[:1]
    return out


async def on_elicit(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    ELICIT["seen"] += 1
    ELICIT["message"] = getattr(params, "message", "")
    action = ELICIT["action"]
    if action == "accept" and getattr(params, "mode", "form") == "form":
        schema = params.requested_schema
        if hasattr(schema, "model_dump"):
            schema = schema.model_dump(by_alias=True, exclude_none=True)
        content = fill_from_schema(dict(schema))
        print(f"[elicitation] {params.message!r} -> accept {json.dumps(content)}", file=sys.stderr)
        return types.ElicitResult(action="accept", content=content)
    print(f"[elicitation] {params.message!r} -> {action}", file=sys.stderr)
    return types.ElicitResult(action=action)


async def on_sampling(ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=SAMPLING_REPLY),
        model="e2e-fake-model",
        stop_reason="endTurn",
    )


def describe(error: BaseException) -> str:
    """An exception as one short line; a group (anyio task groups) by its innermost errors, a
    pydantic validation error (a response the SDK refused) by its failed fields."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(e) for e in error.exceptions)
    errors = getattr(error, "errors", None)
    if type(error).__name__ == "ValidationError" and callable(errors):
        fields = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in errors())
        return f"the SDK refused the response: {getattr(error, 'title', '')}: {fields}"[:500]
    return " ".join(f"{type(error).__name__}: {error}".split())[:500]


def texts(result: Any) -> str:
    return "\n".join(c.text for c in getattr(result, "content", None) or [] if getattr(c, "type", None) == "text")


async def step(label: str, check: str, body) -> None:
    """Run one check; an exception is that check's failure, and the next checks still run."""
    try:
        await body()
    except Exception as error:  # noqa: BLE001 - any failure is reported as FAIL
        report(label, check, False, describe(error))


async def run(ns: argparse.Namespace) -> None:
    label = ns.label
    if ns.url:
        import httpx2  # the SDK's HTTP library; its own client is how headers are set
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {ns.token}"},
                                  timeout=httpx2.Timeout(30.0, read=300.0))
        server: Any = streamable_http_client(ns.url, http_client=http)
    else:
        # The SDK gives the server only a minimal environment (PATH, HOME...) unless env= is
        # set; switchboard needs SWITCHBOARD_HOME.
        server = StdioServerParameters(command=ns.server[0], args=ns.server[1:], env=dict(os.environ))

    async with Client(
        server,
        mode=ns.mode,
        elicitation_callback=on_elicit,
        sampling_callback=on_sampling,
        read_timeout_seconds=30,
        client_info=types.Implementation(name="switchboard-e2e-python", version="1.0.0"),
    ) as client:
        info = client.server_info
        report(label, "initialize", info is not None and info.name == "switchboard",
               f"protocol {client.protocol_version}, server {info.name if info else None} "
               f"{info.version if info else None}")

        names: list[str] = []

        async def tools_list() -> None:
            nonlocal names
            names = [t.name for t in (await client.list_tools()).tools]
            want = {"search", "fetch", "test_simple_text", "test_elicitation"}
            missing = sorted(want - set(names))
            report(label, "tools/list", not missing,
                   f"{len(names)} tools" if not missing else f"missing {missing} in {names}")

        async def plugin_tool() -> None:
            res = await client.call_tool("test_simple_text", {})
            text = texts(res)
            report(label, "tools/call test_simple_text (fixture plugin)",
                   not res.is_error and text == "This is a simple text response for testing.",
                   repr(text[:200]))

        ids: list[str] = []

        async def search() -> None:
            nonlocal ids
            res = await client.call_tool("search", {"query": ns.word})
            sc = res.structured_content or {}
            results = sc.get("results")
            ids = [r.get("id") for r in results or [] if isinstance(r, dict)]
            ok = (not res.is_error and sc.get("errors") == [] and isinstance(results, list)
                  and len(ids) == ns.expect_hits and all(isinstance(i, str) and i for i in ids))
            report(label, "search over the generated corpus", ok,
                   f"ids {ids}" if ok else f"isError={res.is_error} structuredContent={json.dumps(sc)[:400]}")

        async def fetch() -> None:
            if not ids:
                report(label, "fetch a search result", False, "no id from search")
                return
            res = await client.call_tool("fetch", {"id": ids[0]})
            sc = res.structured_content or {}
            ok = not res.is_error and sc.get("id") == ids[0] and ns.word in (sc.get("text") or "")
            report(label, "fetch a search result", ok,
                   f"{ids[0]}" if ok else f"isError={res.is_error} {json.dumps(sc)[:400]} {texts(res)[:200]!r}")

        async def resources_list() -> None:
            listed = [str(r.uri) for r in (await client.list_resources()).resources]
            report(label, "resources/list", "test://static-text" in listed,
                   f"{len(listed)} resources" if "test://static-text" in listed else f"got {listed}")

        async def resources_read() -> None:
            read = await client.read_resource("test://static-text")
            text = "".join(getattr(c, "text", "") for c in read.contents)
            report(label, "resources/read test://static-text",
                   text == "This is the content of the static text resource.", repr(text[:200]))

        async def prompts_list() -> None:
            listed = [p.name for p in (await client.list_prompts()).prompts]
            want = {"test_simple_prompt", "test_prompt_with_arguments"}
            report(label, "prompts/list", want <= set(listed),
                   f"{len(listed)} prompts" if want <= set(listed) else f"got {listed}")

        async def prompt_get(name: str, arguments: dict[str, str] | None, expected: str) -> None:
            got = await client.get_prompt(name, arguments)
            text = getattr(got.messages[0].content, "text", None) if got.messages else None
            report(label, f"prompts/get {name}", text == expected, repr(text))

        async def elicit(action: str) -> None:
            ELICIT["action"], before = action, ELICIT["seen"]
            res = await client.call_tool("test_elicitation", {"message": f"e2e {action}?"})
            text = texts(res)
            ok = (not res.is_error and ELICIT["seen"] == before + 1 and f"<action: {action}," in text
                  and (action != "accept" or "e2e-username" in text))
            report(label, f"elicitation answered with {action}", ok,
                   f"{text[:200]!r}, {ELICIT['seen'] - before} elicitation request(s)")

        async def approval(action: str) -> None:
            # switchboard asks before the tool runs: by elicitation/create (legacy) or by an
            # input_required result the SDK answers through the same callback and retries with
            # the sealed requestState (2026-07-28).
            ELICIT["action"], before = action, ELICIT["seen"]
            res = await client.call_tool(ns.approval, {})
            asked, text = ELICIT["seen"] - before, texts(res)
            question = ELICIT.get("message") or ""
            if action == "accept":
                ok = not res.is_error and asked == 1 and f"Allow {ns.approval}" in question
            else:
                ok = res.is_error and asked == 1 and "not approved" in text
            report(label, f"approval of {ns.approval} answered with {action}", ok,
                   f"{asked} question(s), isError={res.is_error}: {text[:160]!r}")

        async def sampling() -> None:
            res = await client.call_tool("test_sampling", {"prompt": "say something"})
            text = texts(res)
            report(label, "sampling answered", not res.is_error and SAMPLING_REPLY in text, repr(text[:200]))

        await step(label, "tools/list", tools_list)
        await step(label, "tools/call test_simple_text (fixture plugin)", plugin_tool)
        await step(label, "search over the generated corpus", search)
        await step(label, "fetch a search result", fetch)
        await step(label, "resources/list", resources_list)
        await step(label, "resources/read test://static-text", resources_read)
        await step(label, "prompts/list", prompts_list)
        await step(label, "prompts/get test_simple_prompt",
                   lambda: prompt_get("test_simple_prompt", None, "This is a simple prompt for testing."))
        await step(label, "prompts/get test_prompt_with_arguments",
                   lambda: prompt_get("test_prompt_with_arguments", {"arg1": "one", "arg2": "two"},
                                      "Prompt with arguments: arg1='one', arg2='two'"))
        if ns.approval:
            await step(label, f"approval of {ns.approval} answered with accept", lambda: approval("accept"))
            await step(label, f"approval of {ns.approval} answered with decline", lambda: approval("decline"))
        if ns.no_asks:
            print(f"note {label}: elicitation and sampling not checked: {ns.no_asks}", flush=True)
        else:
            await step(label, "elicitation answered with accept", lambda: elicit("accept"))
            await step(label, "elicitation answered with decline", lambda: elicit("decline"))
            await step(label, "sampling answered", sampling)


def main() -> int:
    argv = sys.argv[1:]
    server: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, server = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--label", default="python")
    p.add_argument("--word", required=True)
    p.add_argument("--expect-hits", type=int, required=True)
    p.add_argument("--mode", default="auto")
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--no-asks", metavar="REASON", help="skip the elicitation and sampling checks, saying why")
    p.add_argument("--approval", metavar="TOOL", help="a tool switchboard asks about: approve one call, decline one")
    ns = p.parse_args(argv)
    ns.server = server
    if not ns.url and not server:
        p.error("give --url URL --token T, or -- SERVER_CMD [ARGS...]")
    try:
        asyncio.run(asyncio.wait_for(run(ns), timeout=120))
    except BaseException as error:  # noqa: BLE001 - connection failures, timeouts, groups
        report(ns.label, "session", False, describe(error))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
