#!/usr/bin/env node
// The Claude Desktop path of an approval, with the official TypeScript SDK
// (@modelcontextprotocol/sdk, pinned 1.32.2) at its default request timeout (60 s) and without
// the elicitation capability, as Claude Desktop connects. Run by scripts/e2e-clients.sh.
//
// Checks: a call that needs approval returns (before the client's timeout) with an error that
// names the approval page and the CLI command and says to call again; a desktop notification
// was sent on the session bus (the `dbus-monitor` log the caller keeps); the page `serve`
// serves lists the question and takes a yes; the repeated call runs; and the yes was used by
// that one call (the question is no longer pending; the audit shows one approval by the person).
//
// Usage:
//   E2E_TS_SDK=<sdk folder> node ts_approval.mjs --label NAME --tool TOOL --monitor-log FILE \
//     --home DIR -- SERVER_CMD [ARGS...]
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { reporter, textOf as text, sleep, commandLine } from './checks.mjs';

const sdkRoot = process.env.E2E_TS_SDK;
const load = (file) => import(pathToFileURL(join(sdkRoot, 'dist/esm', file)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport, getDefaultEnvironment } = await load('client/stdio.js');

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const opts = {};
for (let i = 0; i < sep; i += 2) {
  opts[argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = argv[i + 1];
}
const [command, ...serverArgs] = argv.slice(sep + 1);
const { label, tool, monitorLog, home } = opts;

const { report, failed } = reporter(label);
const switchboard = commandLine(command, home);

// No capabilities: no elicitation, as Claude Desktop.
const client = new Client({ name: 'claude-desktop-like', version: '0.0.1' }, { capabilities: {} });
const transport = new StdioClientTransport({
  command,
  args: serverArgs,
  env: { ...getDefaultEnvironment(), ...process.env },
  stderr: 'inherit',
});
await client.connect(transport);

const started = Date.now();
let first;
try {
  // No timeout option: the SDK's default (60 s) applies, as in Claude Desktop.
  first = await client.callTool({ name: tool, arguments: {} });
} catch (e) {
  report('the waiting call returns before the client gives up', false, `${e?.name}: ${e?.message}`);
  await client.close();
  process.exit(1);
}
const seconds = (Date.now() - started) / 1000;
const said = text(first);
report('the waiting call returns before the client gives up', first.isError === true && seconds < 60,
  `${seconds.toFixed(1)} s, isError=${first.isError}`);
const url = said.match(/http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]+\//)?.[0];
const id = said.match(/switchboard approvals approve ([a-z0-9]+)/)?.[1];
report('it tells the model the page, the command and to call again',
  Boolean(url && id) && said.includes(`call ${tool} again`), said.slice(0, 300));

// The notification was sent (the caller's dbus-monitor saw the Notify call).
let notified = '';
for (let i = 0; i < 50 && !notified.includes('http://127.0.0.1:'); i += 1) {
  try { notified = readFileSync(monitorLog, 'utf8'); } catch { notified = ''; }
  if (!notified.includes('http://127.0.0.1:')) await sleep(100);
}
report('a desktop notification names the tool and the page',
  notified.includes('member=Notify') && notified.includes(`Approve ${tool}?`) && notified.includes(url ?? '-'),
  notified.includes('member=Notify') ? 'Notify seen on the session bus' : 'no Notify call on the session bus');

if (url && id) {
  const page = await (await fetch(url)).text();
  report('the page serve serves lists the question', page.includes(`approve-${id}`) && page.includes(tool));
  const answered = await fetch(`${url}decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `id=${id}&action=approve&remember=once`,
    redirect: 'manual',
  });
  report('approving on the page', answered.status === 303, `HTTP ${answered.status}`);
  const t1 = Date.now();
  const again = await client.callTool({ name: tool, arguments: {} });
  report('the repeated call runs at once', again.isError !== true && (Date.now() - t1) < 10000,
    `${((Date.now() - t1) / 1000).toFixed(1)} s: ${text(again).slice(0, 120)}`);
  const pending = switchboard('approvals', 'list', '--json').trim();
  // Audit rows are written in batches off the request path: wait for the approval's row.
  let approvals = [];
  for (let i = 0; i < 50 && approvals.length === 0; i += 1) {
    if (i) await sleep(100);
    approvals = switchboard('audit', '--json', '--limit', '200').trim().split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => r.method === 'approval' && r.tool === tool && r.outcome === 'approved'
        && String(r.client).startsWith('claude-desktop-like/'));
  }
  report('the yes was used by that one call', pending === '' && approvals.length === 1,
    `${approvals.length} approval(s), pending: ${pending || 'none'}`);
}
await client.close();
process.exit(failed() ? 1 : 0);
