#!/usr/bin/env node
// End-to-end checks of switchboard with the MCP Inspector's command line
// (@modelcontextprotocol/inspector 2.12.0, `--cli`; it needs Node >= 22.19). Run by
// scripts/e2e-clients.sh under the pinned Node 22.
//
// Each check is one Inspector run against `SERVER_CMD` over stdio (the Inspector starts the
// server, initializes, sends one method, and exits): tools/list, a plugin tool, `search` and
// `fetch` over the caller's corpus, resources (list, read), prompts (list, get), and an unknown
// tool (the Inspector's exit code 5, tool_not_found). The Inspector's CLI cannot answer
// elicitation or sampling, so those are not checked here. Prints one `PASS <label>: <check>` or
// `FAIL <label>: <check>: <why>` line per check; exits 1 if any failed.
//
// Usage:
//   node inspector_checks.mjs --inspector <launcher index.js> --label NAME --word WORD
//        --expect-hits N [-e KEY=VALUE]... -- SERVER_CMD [ARGS...]
// -e KEY=VALUE is passed to the server's environment (the Inspector gives the server only a
// minimal one).
import { spawnSync } from 'node:child_process';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opts = { label: 'inspector', env: [] };
for (let i = 0; i < (sep < 0 ? argv.length : sep); i += 2) {
  if (argv[i] === '-e') opts.env.push(argv[i + 1]);
  else opts[argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = argv[i + 1];
}
if (sep < 0 || sep === argv.length - 1 || !opts.inspector || !opts.word || opts.expectHits === undefined) {
  console.error('usage: node inspector_checks.mjs --inspector JS --label NAME --word WORD --expect-hits N [-e K=V]... -- SERVER_CMD [ARGS...]');
  process.exit(2);
}
const server = argv.slice(sep + 1);
const label = opts.label;
let failed = 0;

function report(check, ok, detail = '') {
  if (ok) {
    console.log(`PASS ${label}: ${check}${detail ? ` (${detail})` : ''}`);
  } else {
    failed += 1;
    console.log(`FAIL ${label}: ${check}: ${detail}`);
  }
}

// One Inspector run: { status, result (the parsed `result` of its JSON output), error, raw }.
function inspect(...args) {
  const envArgs = opts.env.flatMap((kv) => ['-e', kv]);
  const run = spawnSync(process.execPath,
    [opts.inspector, '--cli', ...envArgs, ...server, ...args, '--format', 'json', '-q'],
    { encoding: 'utf8', timeout: 60000 });
  const out = { status: run.status, raw: `${run.stdout ?? ''}${run.stderr ?? ''}`.trim() };
  if (run.error) out.raw = `${run.error.message} ${out.raw}`;
  try {
    const parsed = JSON.parse(run.stdout);
    out.result = parsed.result;
    out.error = parsed.error;
  } catch {
    try { out.error = JSON.parse(run.stderr).error; } catch { /* reported through raw */ }
  }
  return out;
}

// Run `check`: `judge(result)` returns [ok, detail]; a failed run or a throw is a failure.
function check(name, args, judge) {
  const run = inspect(...args);
  if (run.status !== 0 || run.result === undefined) {
    report(name, false, `exit ${run.status}: ${run.raw.slice(0, 400)}`);
    return undefined;
  }
  try {
    const [ok, detail] = judge(run.result);
    report(name, ok, ok ? detail : `${detail}; output ${JSON.stringify(run.result).slice(0, 400)}`);
  } catch (e) {
    report(name, false, `${e?.message}; output ${JSON.stringify(run.result).slice(0, 400)}`);
  }
  return run.result;
}

const texts = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

check('initialize and tools/list', ['--method', 'tools/list'], (r) => {
  const names = r.tools.map((t) => t.name);
  const missing = ['search', 'fetch', 'test_simple_text'].filter((n) => !names.includes(n));
  return [missing.length === 0, missing.length ? `missing ${missing}` : `${names.length} tools`];
});

check('tools/call test_simple_text (fixture plugin)', ['--method', 'tools/call', '--tool-name', 'test_simple_text'],
  (r) => [!r.isError && texts(r) === 'This is a simple text response for testing.', JSON.stringify(texts(r))]);

let ids = [];
check('search over the generated corpus',
  ['--method', 'tools/call', '--tool-name', 'search', '--tool-args-json', JSON.stringify({ query: opts.word })],
  (r) => {
    const sc = r.structuredContent ?? {};
    ids = Array.isArray(sc.results) ? sc.results.map((x) => x?.id) : [];
    const ok = !r.isError && Array.isArray(sc.errors) && sc.errors.length === 0
      && ids.length === Number(opts.expectHits) && ids.every((id) => typeof id === 'string' && id.length > 0);
    return [ok, `ids ${JSON.stringify(ids)}`];
  });

if (ids.length) {
  check('fetch a search result',
    ['--method', 'tools/call', '--tool-name', 'fetch', '--tool-args-json', JSON.stringify({ id: ids[0] })],
    (r) => {
      const sc = r.structuredContent ?? {};
      return [!r.isError && sc.id === ids[0] && String(sc.text ?? '').includes(opts.word), ids[0]];
    });
} else {
  report('fetch a search result', false, 'no id from search');
}

check('resources/list', ['--method', 'resources/list'], (r) => {
  const uris = r.resources.map((x) => x.uri);
  return [uris.includes('test://static-text'), `${uris.length} resources`];
});

check('resources/read test://static-text', ['--method', 'resources/read', '--uri', 'test://static-text'], (r) => {
  const text = r.contents.map((c) => c.text ?? '').join('');
  return [text === 'This is the content of the static text resource.', JSON.stringify(text)];
});

check('prompts/list', ['--method', 'prompts/list'], (r) => {
  const names = r.prompts.map((p) => p.name);
  return [['test_simple_prompt', 'test_prompt_with_arguments'].every((n) => names.includes(n)), `${names.length} prompts`];
});

check('prompts/get test_simple_prompt', ['--method', 'prompts/get', '--prompt-name', 'test_simple_prompt'], (r) => {
  const text = r.messages?.[0]?.content?.text;
  return [text === 'This is a simple prompt for testing.', JSON.stringify(text)];
});

check('prompts/get test_prompt_with_arguments',
  ['--method', 'prompts/get', '--prompt-name', 'test_prompt_with_arguments', '--prompt-args', 'arg1=one', 'arg2=two'],
  (r) => {
    const text = r.messages?.[0]?.content?.text;
    return [text === "Prompt with arguments: arg1='one', arg2='two'", JSON.stringify(text)];
  });

{
  // The Inspector's exit code 5 is "tool error" (here tool_not_found).
  const run = inspect('--method', 'tools/call', '--tool-name', 'no_such_tool_e2e');
  report('unknown tool is an error (exit 5)', run.status === 5,
    `exit ${run.status}: ${JSON.stringify(run.error ?? run.raw).slice(0, 300)}`);
}

process.exit(failed ? 1 : 0);
