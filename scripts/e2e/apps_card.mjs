#!/usr/bin/env node
// switchboard's MCP App approval card, answered in Debian's headless Chromium. Run by
// scripts/e2e-clients.sh with Node 22, the TypeScript SDK (@modelcontextprotocol/sdk 1.32.2)
// and playwright-core (1.64.1, driving /usr/bin/chromium; no browser download).
//
// The client declares the MCP Apps extension and no elicitation, as Claude Desktop. Checks:
// tools/list gives the tool that is asked about the card (`_meta.ui.resourceUri`) and lists
// the app-only answering tool with visibility ["app"]; a small host page (apps_host.html,
// served here) renders the card from its ui:// resource while the model's call waits, and
// forwards the card's tools/call to switchboard; the approval page (served by `serve`)
// shows the same question and keeps a choice being made while it refreshes; clicking
// "Approve once" in the card runs the waiting call, which the card then reports; the audit
// records one approval by the card. Screenshots of the card and the page go to --shots.
//
// Usage:
//   E2E_TS_SDK=<sdk folder> E2E_PLAYWRIGHT=<playwright-core folder> node apps_card.mjs \
//     --label NAME --tool TOOL --home DIR --shots DIR [--chromium PATH] -- SERVER_CMD [ARGS...]
import { pathToFileURL } from 'node:url';
import { join, dirname } from 'node:path';
import { readFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { reporter, textOf as text, sleep, commandLine } from './checks.mjs';

const load = (file) => import(pathToFileURL(join(process.env.E2E_TS_SDK, 'dist/esm', file)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = await load('client/stdio.js');
const { chromium } = await import(pathToFileURL(join(process.env.E2E_PLAYWRIGHT, 'index.mjs')).href);

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opts = { chromium: '/usr/bin/chromium' };
for (let i = 0; i < sep; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
const [command, ...serverArgs] = argv.slice(sep + 1);
const { label, tool, home, shots } = opts;
const here = dirname(new URL(import.meta.url).pathname);
mkdirSync(shots, { recursive: true });

const { report, failed } = reporter(label);
const switchboard = commandLine(command, home);

const client = new Client(
  { name: 'apps-host', version: '1.0.0' },
  { capabilities: { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } } } },
);
await client.connect(new StdioClientTransport({
  command, args: serverArgs, env: { ...getDefaultEnvironment(), ...process.env }, stderr: 'inherit',
}));

const { tools } = await client.listTools();
const asked = tools.find((t) => t.name === tool);
const resourceUri = asked?._meta?.ui?.resourceUri;
report('the tool that is asked about declares the approval card',
  resourceUri === 'ui://switchboard/approval', JSON.stringify(asked?._meta ?? null));
const answering = tools.find((t) => t.name === 'switchboard__approval');
const visibility = new Map(tools.map((t) => [t.name, t._meta?.ui?.visibility ?? ['model', 'app']]));
report('the answering tool is for the app only', JSON.stringify(answering?._meta?.ui?.visibility) === '["app"]');

// The model's call starts; the host renders the card at the same time.
let settle;
const callResult = new Promise((resolve) => { settle = resolve; });
client.callTool({ name: tool, arguments: {} }).then(settle, (e) => settle({ isError: true, content: [{ type: 'text', text: String(e) }] }));

const page = readFileSync(join(here, 'apps_host.html'), 'utf8');
const server = createServer(async (req, res) => {
  const reply = (status, body, type = 'application/json') => { res.writeHead(status, { 'content-type': type }); res.end(body); };
  if (req.method === 'GET' && req.url.startsWith('/?')) return reply(200, page, 'text/html; charset=utf-8');
  if (req.method === 'GET' && req.url === '/call-result') return reply(200, JSON.stringify(await callResult));
  if (req.method === 'POST' && req.url === '/rpc') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { method, params } = JSON.parse(body);
    try {
      if (method === 'tools/call') {
        // A host MUST reject an app's call to a tool not visible to apps.
        if (!(visibility.get(params.name) ?? []).includes('app')) throw { code: -32602, message: `${params.name} is not for apps` };
        return reply(200, JSON.stringify({ result: await client.callTool(params) }));
      }
      if (method === 'resources/read') {
        if (!String(params.uri).startsWith('ui://')) throw { code: -32602, message: 'apps read ui:// resources only' };
        return reply(200, JSON.stringify({ result: await client.readResource(params) }));
      }
      throw { code: -32601, message: `${method} is not forwarded` };
    } catch (error) {
      return reply(200, JSON.stringify({ error: { code: error.code ?? -32000, message: error.message ?? String(error) } }));
    }
  }
  reply(404, 'not found', 'text/plain');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: opts.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const tab = await browser.newPage({ viewportSize: { width: 760, height: 720 } });
  await tab.goto(`${base}?tool=${encodeURIComponent(tool)}&arguments=%7B%7D&resource=${encodeURIComponent(resourceUri ?? '')}`);
  const card = tab.frameLocator('iframe');
  const approve = card.locator('#approve-once');
  await approve.waitFor({ state: 'visible', timeout: 20000 });
  const question = await card.locator('#question').textContent();
  report('the card shows the question', question.includes(`Allow ${tool}`) && question.includes('Asked by: apps-host/1.0.0'),
    question.split('\n')[0]);
  await tab.screenshot({ path: join(shots, 'card-waiting.png') });

  // The same question on the approval page, which keeps a choice while it refreshes.
  const pending = switchboard('approvals', 'list', '--json').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const pageTab = await browser.newPage({ viewportSize: { width: 900, height: 900 } });
  const ui = await (async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(command, ['approvals', 'ui', '--no-open'], { env: { ...process.env, SWITCHBOARD_HOME: home } });
    const address = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
    return { child, address };
  })();
  await pageTab.goto(ui.address);
  const id = pending[0]?.id;
  const sameText = (await pageTab.locator(`#approval-${id} pre.question`).textContent()) === pending[0]?.summary;
  report('the approval page shows the same question', Boolean(id) && sameText, `question ${id}`);
  await pageTab.locator(`#approval-${id} input[value="session"]`).check();
  // Two refreshes of the list go by; the choice being made stays.
  for (let i = 0; i < 2; i += 1) await pageTab.waitForResponse((r) => r.url() === ui.address, { timeout: 10000 });
  const kept = await pageTab.locator(`#approval-${id} input[value="session"]`).isChecked();
  report('the page keeps a choice being made while it refreshes', kept);
  await pageTab.screenshot({ path: join(shots, 'page.png'), fullPage: true });
  ui.child.kill();

  await approve.click();
  await card.locator('#outcome').filter({ hasText: 'Done: the call ran.' }).waitFor({ timeout: 20000 });
  const result = await callResult;
  report('approving in the card runs the waiting call', result.isError !== true, text(result).slice(0, 80));
  const outcome = await card.locator('#outcome').textContent();
  report('the card reports the outcome', outcome === 'Done: the call ran.', outcome);
  await tab.screenshot({ path: join(shots, 'card-done.png') });

  let approvals = [];
  for (let i = 0; i < 50 && approvals.length === 0; i += 1) {
    if (i) await sleep(100);
    approvals = switchboard('audit', '--json', '--limit', '200').trim().split('\n').filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => r.method === 'approval' && r.tool === tool && r.outcome === 'approved'
        && String(r.client).startsWith('apps-host/'));
  }
  report('one approval, given on the card', approvals.length === 1 && approvals[0].decided_by === 'the person approved (once)',
    JSON.stringify(approvals.map((r) => r.decided_by)));
} finally {
  await browser.close();
  server.close();
  await client.close();
}
process.exit(failed() ? 1 : 0);
