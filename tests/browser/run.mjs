// Browser test runner for Citius.
//
// Starts `$CITIUS_BIN serve --demo` on a free port with a throw-away data dir,
// drives it with headless Chromium (playwright-core, Debian's browser: no
// browser download), runs every test in tests/*.mjs in order, and exits 1 if
// any test failed. Deliberately no test framework: a few plain async functions.
//
// Environment (all required; scripts/test sets them):
//   CITIUS_BIN  path to the built `citius` binary
//   CHROMIUM    path to the Chromium executable (e.g. /usr/bin/chromium)
//   ARTIFACTS   directory for the server log and screenshots
//
// Arguments (optional): parts of test file names; only files whose name contains
// one of them run, e.g. `node run.mjs 40-handoff`. Without arguments every file runs.
//
// A test file exports `default` an array of
//   { name, run: async ({ browser, base, artifacts, login, newPage, bin, dataDir, smtpPort }) => {} }
// (`smtpPort` is where the server receives mail over SMTP.)
// (`bin` and `dataDir` let a test run a `citius` command against the served database.)
// Files are loaded in file-name order (hence the numeric prefixes). Leave the
// contexts a test opens open: on failure the runner screenshots their pages
// (failure-<test-name>.png), and it closes them after every test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TESTS_DIR = path.join(HERE, 'tests');
const STARTUP_TIMEOUT_MS = 60_000;
// A hanging test must not hang the whole run.
const TEST_TIMEOUT_MS = 90_000;

export const DEMO_EMAIL = 'owner@demo.test';
export const DEMO_PASSWORD = 'citius-demo-2026';

/** Logs in as the demo owner and waits until the inbox is shown. */
export async function login(page, base, { email = DEMO_EMAIL, password = DEMO_PASSWORD } = {}) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL((url) => url.pathname === '/inbox', { timeout: 10_000 });
}

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (run scripts/test)`);
  return value;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'test';
}

function tail(file, lines = 60) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(could not read ${file}: ${err.message})`;
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Spawns the server and resolves once /api/v1/health answers 200. */
async function startServer({ bin, artifacts }) {
  const port = await freePort();
  const smtpPort = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citius-browser-'));
  const logFile = path.join(artifacts, 'server.log');
  const logFd = fs.openSync(logFile, 'w');
  const child = spawn(bin, ['serve', '--demo', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--smtp-listen', `127.0.0.1:${smtpPort}`], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '1' },
  });
  fs.closeSync(logFd);

  const server = { child, port, smtpPort, dataDir, logFile, base: `http://127.0.0.1:${port}`, exit: null };
  child.on('exit', (code, signal) => {
    server.exit = { code, signal };
  });
  child.on('error', (err) => {
    server.exit = { code: null, signal: null, error: err };
  });

  try {
    await waitHealthy(server);
  } catch (err) {
    // Do not leave a half-started server or its data dir behind.
    await stopServer(server).catch(() => {});
    throw err;
  }
  return server;
}

async function waitHealthy(server) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no answer yet';
  for (;;) {
    if (server.exit) {
      const why = server.exit.error?.message ?? `code ${server.exit.code}, signal ${server.exit.signal}`;
      throw new Error(`citius exited before it was ready (${why})`);
    }
    try {
      const res = await fetch(`${server.base}/api/v1/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    if (Date.now() > deadline) {
      throw new Error(`citius was not healthy within ${STARTUP_TIMEOUT_MS / 1000} s (last: ${lastError})`);
    }
    await sleep(250);
  }
}

async function stopServer(server) {
  if (!server) return;
  const { child } = server;
  if (!server.exit) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    // Give it a moment to shut down cleanly, then insist.
    const clean = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!clean) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  fs.rmSync(server.dataDir, { recursive: true, force: true });
}

async function loadTests(only = []) {
  const files = fs
    .readdirSync(TESTS_DIR)
    .filter((f) => f.endsWith('.mjs'))
    .filter((f) => only.length === 0 || only.some((part) => f.includes(part)))
    .sort();
  const tests = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(path.join(TESTS_DIR, file)).href);
    assert.ok(Array.isArray(mod.default), `${file}: default export must be an array of tests`);
    for (const t of mod.default) {
      assert.ok(t && typeof t.name === 'string' && typeof t.run === 'function', `${file}: each test needs a name and a run function`);
      tests.push({ ...t, file });
    }
  }
  if (tests.length === 0) {
    const which = only.length ? ` matching ${only.join(', ')}` : '';
    throw new Error(`no browser tests found in ${TESTS_DIR}${which}`);
  }
  const names = new Set();
  for (const t of tests) {
    assert.ok(!names.has(t.name), `duplicate browser test name: ${t.name}`);
    names.add(t.name);
  }
  return tests;
}

async function screenshotOpenPages(browser, artifacts, name) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  for (const [i, page] of pages.entries()) {
    const suffix = pages.length > 1 ? `-${i + 1}` : '';
    const file = path.join(artifacts, `failure-${slug(name)}${suffix}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      console.error(`    screenshot: ${file} (${page.url()})`);
    } catch (err) {
      console.error(`    (no screenshot: ${err.message})`);
    }
  }
}

async function main() {
  const bin = requireEnv('CITIUS_BIN');
  const executablePath = requireEnv('CHROMIUM');
  const artifacts = path.resolve(requireEnv('ARTIFACTS'));
  for (const [what, file] of [['CITIUS_BIN', bin], ['CHROMIUM', executablePath]]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      throw new Error(`${what}=${file} does not exist or is not executable`);
    }
    assert.ok(fs.statSync(file).isFile(), `${what}=${file} is not a file`);
  }
  fs.mkdirSync(artifacts, { recursive: true });
  // Stale failure screenshots from an earlier run would only mislead.
  for (const f of fs.readdirSync(artifacts)) {
    if (f.startsWith('failure-') && f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
  }

  const tests = await loadTests(process.argv.slice(2));
  let server;
  let browser;
  let failed = 0;

  const cleanup = async () => {
    await browser?.close().catch(() => {});
    await stopServer(server).catch((err) => console.error(`stopping citius: ${err.message}`));
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }

  try {
    try {
      server = await startServer({ bin, artifacts });
    } catch (err) {
      console.error(`browser tests: ${err.message}\n--- tail of ${path.join(artifacts, 'server.log')} ---`);
      console.error(tail(path.join(artifacts, 'server.log')));
      await cleanup();
      process.exit(1);
    }
    console.log(`citius is up at ${server.base} (log: ${server.logFile})`);

    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });

    const newPage = async (options = {}) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
      return context.newPage();
    };

    for (const t of tests) {
      const started = Date.now();
      try {
        await withTimeout(
          t.run({ browser, base: server.base, artifacts, login, newPage, bin, dataDir: server.dataDir, smtpPort: server.smtpPort }),
          TEST_TIMEOUT_MS,
          `test "${t.name}"`,
        );
        console.log(`  ok    ${t.name} (${Date.now() - started} ms)`);
      } catch (err) {
        failed += 1;
        console.error(`  FAIL  ${t.name} [${t.file}] (${Date.now() - started} ms)`);
        console.error(`    ${(err?.stack ?? String(err)).split('\n').join('\n    ')}`);
        await screenshotOpenPages(browser, artifacts, t.name);
        if (server.exit) {
          console.error(`    citius exited during the test (code ${server.exit.code}, signal ${server.exit.signal})`);
        }
      } finally {
        for (const context of browser.contexts()) await context.close().catch(() => {});
      }
    }
  } finally {
    await cleanup();
  }

  if (failed > 0) {
    console.error(`--- tail of ${server.logFile} ---\n${tail(server.logFile)}`);
    console.error(`${tests.length - failed} browser tests passed, ${failed} failed`);
    process.exit(1);
  }
  console.log(`${tests.length} browser tests passed`);
}

// Only run when executed directly, so test files may import the helpers above.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(`browser tests: ${err?.stack ?? err}`);
    process.exit(1);
  });
}
