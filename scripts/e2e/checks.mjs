// What the Node e2e scripts share: one PASS/FAIL line per check (the format
// scripts/e2e-clients.sh counts), the text of a tool result, a pause, and running the
// switchboard command line against a home.
import { execFileSync } from 'node:child_process';

export function reporter(label) {
  let failed = 0;
  return {
    report(check, ok, detail = '') {
      if (ok) console.log(`PASS ${label}: ${check}${detail ? ` (${detail})` : ''}`);
      else { failed += 1; console.log(`FAIL ${label}: ${check}: ${detail}`); }
      return ok;
    },
    failed: () => failed,
  };
}

export const textOf = (result) =>
  (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const commandLine = (binary, home) => (...args) =>
  execFileSync(binary, args, { env: { ...process.env, SWITCHBOARD_HOME: home }, encoding: 'utf8' });
