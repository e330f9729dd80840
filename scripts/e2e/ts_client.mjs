#!/usr/bin/env node
// End-to-end checks of switchboard with the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk, pinned 1.32.2). Run by scripts/e2e-clients.sh.
//
// Spawns switchboard over stdio, then checks: the handshake, tools/list, a plugin tool, the
// unified `search` and `fetch` over the corpus the caller made, resources (list, read), prompts
// (list, get), and elicitation answered with accept and with decline (and sampling). Prints one
// `PASS <label>: <check>` or `FAIL <label>: <check>: <why>` line per check; exits 1 if any failed.
//
// Usage:
//   E2E_TS_SDK=<folder of the installed @modelcontextprotocol/sdk> \
//     node ts_client.mjs --label NAME --word WORD --expect-hits N -- SERVER_CMD [ARGS...]
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const sdkRoot = process.env.E2E_TS_SDK;
if (!sdkRoot) {
  console.log('FAIL typescript: setup: E2E_TS_SDK (the installed SDK folder) is not set');
  process.exit(1);
}
const load = (file) => import(pathToFileURL(join(sdkRoot, 'dist/esm', file)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = await load('client/stdio.js');
const { ElicitRequestSchema, CreateMessageRequestSchema } = await load('types.js');

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opts = { label: 'typescript', word: null, expectHits: null };
for (let i = 0; i < (sep < 0 ? argv.length : sep); i += 2) {
  opts[argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = argv[i + 1];
}
if (sep < 0 || sep === argv.length - 1 || !opts.word || opts.expectHits === null) {
  console.error('usage: node ts_client.mjs --label NAME --word WORD --expect-hits N -- SERVER_CMD [ARGS...]');
  process.exit(2);
}
const [command, ...serverArgs] = argv.slice(sep + 1);
const label = opts.label;
const expectHits = Number(opts.expectHits);
const SAMPLING_REPLY = 'canned sampling reply from the typescript e2e client';

let failed = 0;
function report(check, ok, detail = '') {
  if (ok) {
    console.log(`PASS ${label}: ${check}${detail ? ` (${detail})` : ''}`);
  } else {
    failed += 1;
    console.log(`FAIL ${label}: ${check}: ${detail}`);
  }
  return ok;
}
// One check; a throw is that check's failure, and the next checks still run.
async function step(check, body) {
  try {
    await body();
  } catch (e) {
    report(check, false, `${e?.name}: ${String(e?.message).replace(/\n/g, ' | ')}`);
  }
}

// An 'accept' answer: each property's default, else a dummy value of its type.
function fillFromSchema(schema) {
  const out = {};
  for (const [name, p] of Object.entries(schema?.properties ?? {})) {
    if ('default' in p) { out[name] = p.default; continue; }
    switch (p.type) {
      case 'string':
        out[name] = p.enum ? p.enum[0] : p.oneOf ? p.oneOf[0].const
          : ({ email: 'e2e@example.com', uri: 'https://example.com', date: '2000-01-01',
               'date-time': '2000-01-01T00:00:00Z' })[p.format] ?? `e2e-${name}`;
        break;
      case 'boolean': out[name] = true; break;
      case 'integer': out[name] = Math.trunc(p.minimum ?? 1); break;
      case 'number': out[name] = p.minimum ?? 1.5; break;
      case 'array': out[name] = (p.items?.enum ?? (p.items?.anyOf ?? []).map((c) => c.const)).slice(0, 1); break;
    }
  }
  return out;
}

// How the elicitation handler answers; the checks switch it between calls.
const elicit = { action: 'accept', seen: 0 };
const client = new Client(
  { name: 'switchboard-e2e-typescript', version: '1.0.0' },
  { capabilities: { elicitation: { form: {} }, sampling: {} } },
);
client.setRequestHandler(ElicitRequestSchema, async (req) => {
  elicit.seen += 1;
  const p = req.params;
  if (elicit.action === 'accept' && (p.mode ?? 'form') === 'form') {
    const content = fillFromSchema(p.requestedSchema);
    console.error(`[elicitation] ${JSON.stringify(p.message)} -> accept ${JSON.stringify(content)}`);
    return { action: 'accept', content };
  }
  console.error(`[elicitation] ${JSON.stringify(p.message)} -> ${elicit.action}`);
  return { action: elicit.action };
});
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: 'assistant', content: { type: 'text', text: SAMPLING_REPLY },
  model: 'e2e-fake-model', stopReason: 'endTurn',
}));

const texts = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const CALL = { timeout: 30000 };

const watchdog = setTimeout(() => {
  report('session', false, 'still running after 120 s');
  process.exit(1);
}, 120000);

try {
  // The SDK gives the server only a minimal environment unless env is set; switchboard needs
  // SWITCHBOARD_HOME.
  const transport = new StdioClientTransport({
    command, args: serverArgs, env: { ...getDefaultEnvironment(), ...process.env }, stderr: 'inherit',
  });
  // SDK 1.x keeps the negotiated version only for HTTP transports (it calls
  // transport.setProtocolVersion when present), so give the stdio transport one.
  let negotiated = null;
  transport.setProtocolVersion = (version) => { negotiated = version; };
  await client.connect(transport);
  const info = client.getServerVersion();
  report('initialize', info?.name === 'switchboard', `protocol ${negotiated}, server ${info?.name} ${info?.version}`);

  await step('tools/list', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    const missing = ['search', 'fetch', 'test_simple_text', 'test_elicitation'].filter((n) => !names.includes(n));
    report('tools/list', missing.length === 0,
      missing.length ? `missing ${missing} in ${JSON.stringify(names)}` : `${names.length} tools`);
  });

  await step('tools/call test_simple_text (fixture plugin)', async () => {
    const r = await client.callTool({ name: 'test_simple_text', arguments: {} }, undefined, CALL);
    const text = texts(r);
    report('tools/call test_simple_text (fixture plugin)',
      !r.isError && text === 'This is a simple text response for testing.', JSON.stringify(text.slice(0, 200)));
  });

  let ids = [];
  await step('search over the generated corpus', async () => {
    const r = await client.callTool({ name: 'search', arguments: { query: opts.word } }, undefined, CALL);
    const sc = r.structuredContent ?? {};
    ids = Array.isArray(sc.results) ? sc.results.map((x) => x?.id) : [];
    const ok = !r.isError && Array.isArray(sc.errors) && sc.errors.length === 0 && Array.isArray(sc.results)
      && ids.length === expectHits && ids.every((id) => typeof id === 'string' && id.length > 0);
    report('search over the generated corpus', ok,
      ok ? `ids ${JSON.stringify(ids)}` : `isError=${!!r.isError} structuredContent=${JSON.stringify(sc).slice(0, 400)}`);
  });

  await step('fetch a search result', async () => {
    if (!ids.length) { report('fetch a search result', false, 'no id from search'); return; }
    const r = await client.callTool({ name: 'fetch', arguments: { id: ids[0] } }, undefined, CALL);
    const sc = r.structuredContent ?? {};
    const ok = !r.isError && sc.id === ids[0] && String(sc.text ?? '').includes(opts.word);
    report('fetch a search result', ok, ok ? ids[0] : `isError=${!!r.isError} ${JSON.stringify(sc).slice(0, 400)}`);
  });

  await step('resources/list', async () => {
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    report('resources/list', uris.includes('test://static-text'),
      uris.includes('test://static-text') ? `${uris.length} resources` : `got ${JSON.stringify(uris)}`);
  });

  await step('resources/read test://static-text', async () => {
    const read = await client.readResource({ uri: 'test://static-text' });
    const text = read.contents.map((c) => c.text ?? '').join('');
    report('resources/read test://static-text', text === 'This is the content of the static text resource.',
      JSON.stringify(text.slice(0, 200)));
  });

  await step('prompts/list', async () => {
    const names = (await client.listPrompts()).prompts.map((p) => p.name);
    const ok = ['test_simple_prompt', 'test_prompt_with_arguments'].every((n) => names.includes(n));
    report('prompts/list', ok, ok ? `${names.length} prompts` : `got ${JSON.stringify(names)}`);
  });

  for (const [name, args, expected] of [
    ['test_simple_prompt', undefined, 'This is a simple prompt for testing.'],
    ['test_prompt_with_arguments', { arg1: 'one', arg2: 'two' }, "Prompt with arguments: arg1='one', arg2='two'"],
  ]) {
    await step(`prompts/get ${name}`, async () => {
      const got = await client.getPrompt(args ? { name, arguments: args } : { name });
      const text = got.messages?.[0]?.content?.text;
      report(`prompts/get ${name}`, text === expected, JSON.stringify(text));
    });
  }

  for (const action of ['accept', 'decline']) {
    const check = `elicitation answered with ${action}`;
    await step(check, async () => {
      elicit.action = action;
      const before = elicit.seen;
      const r = await client.callTool({ name: 'test_elicitation', arguments: { message: `e2e ${action}?` } },
        undefined, CALL);
      const text = texts(r);
      const ok = !r.isError && elicit.seen === before + 1 && text.includes(`<action: ${action},`)
        && (action !== 'accept' || text.includes('e2e-username'));
      report(check, ok, `${JSON.stringify(text.slice(0, 200))}, ${elicit.seen - before} elicitation request(s)`);
    });
  }

  await step('sampling answered', async () => {
    const r = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'say something' } }, undefined, CALL);
    const text = texts(r);
    report('sampling answered', !r.isError && text.includes(SAMPLING_REPLY), JSON.stringify(text.slice(0, 200)));
  });

  await client.close();
} catch (e) {
  report('session', false, `${e?.name}: ${e?.message}`);
}
clearTimeout(watchdog);
process.exit(failed ? 1 : 0);
