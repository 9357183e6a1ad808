// Signing in with the demo owner, and refusing a wrong password.
import assert from 'node:assert/strict';
import path from 'node:path';

const VIEWPORT = { width: 1280, height: 800 };

export default [
  {
    name: 'login and see the inbox',
    run: async ({ browser, base, artifacts, login }) => {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      await login(page, base);

      const h1 = await page.waitForSelector('h1', { timeout: 10_000 });
      assert.match(await h1.textContent(), /Inbox/);
      // The demo data seeds conversations, so the inbox must not be empty.
      await page.waitForSelector('a.conversation-row', { timeout: 10_000 });
      const rows = await page.$$('a.conversation-row');
      assert.ok(rows.length >= 1, 'expected at least one conversation in the inbox');

      await page.screenshot({ path: path.join(artifacts, 'inbox.png'), fullPage: true });
    },
  },
  {
    name: 'wrong password is refused',
    run: async ({ browser, base }) => {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.fill('input[name=email]', 'owner@demo.test');
      await page.fill('input[name=password]', 'not-the-password');
      await page.click('button[type=submit]');

      await page.waitForSelector('[role=alert]', { state: 'visible', timeout: 10_000 });
      assert.equal(new URL(page.url()).pathname, '/login');
    },
  },
];
