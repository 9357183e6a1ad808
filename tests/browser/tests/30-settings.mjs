// Settings: an owner manages people, teams, inboxes, skills and API tokens, reads the audit log
// and downloads tables as CSV; an agent sees the same lists without the admin forms and is
// refused when posting anyway. Also: phones, confirmation pages and the workspace switcher.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// Unique per run, so a re-run against the same data cannot collide.
const RUN = Date.now();
const NEW_EMAIL = `nina.${RUN}@demo.test`;
const NEW_NAME = `Nina Park ${RUN}`;
const NEW_PASSWORD = 'nina-password-2026';
const TEAM = `Escalations ${RUN}`;
const INBOX = `VIP ${RUN}`;
const TOKEN = `CRM sync ${RUN}`;
const SKILL = `German ${RUN}`;

/** The session's CSRF token, published in every page's <meta>. */
async function csrf(page) {
  return page.getAttribute('meta[name=csrf-token]', 'content');
}

/** A table row holding `text`. */
function rowWith(page, text) {
  return page.locator('tbody tr', { hasText: text });
}

async function notice(page, text) {
  await page.waitForSelector(`[role=status]:has-text("${text}")`, { timeout: 10_000 });
}

async function desktopOwner(browser, base, login) {
  const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await login(page, base);
  return page;
}

export default [
  {
    name: 'settings: add a user, change their role, download the users CSV',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await desktopOwner(browser, base, login);
      await page.click('nav[aria-label=Main] a:has-text("Settings")');
      await page.waitForURL((u) => u.pathname === '/settings');
      await page.click('.cards a:has-text("Users")');
      await page.waitForURL((u) => u.pathname === '/settings/users');

      // A refused form comes back with the reason and what was typed.
      await page.fill('#new-email', NEW_EMAIL);
      await page.fill('#new-name', NEW_NAME);
      await page.selectOption('#new-role', 'agent');
      await page.evaluate(() => document.getElementById('new-password').removeAttribute('minlength'));
      await page.fill('#new-password', 'short');
      await page.click('#add-user button[type=submit]');
      await page.waitForSelector('section:has(#add-user) [role=alert]:has-text("Password must be at least 10 characters")');
      assert.equal(await page.inputValue('#new-email'), NEW_EMAIL);

      await page.fill('#new-password', NEW_PASSWORD);
      await page.click('#add-user button[type=submit]');
      await notice(page, 'User added');
      const role = rowWith(page, NEW_EMAIL).locator('select[name=role]');
      assert.equal(await role.inputValue(), 'agent');
      assert.match(await rowWith(page, NEW_EMAIL).textContent(), new RegExp(NEW_NAME));

      await role.selectOption('supervisor');
      await rowWith(page, NEW_EMAIL).locator('button:has-text("Save")').click();
      await notice(page, 'Role saved');
      assert.equal(await rowWith(page, NEW_EMAIL).locator('select[name=role]').inputValue(), 'supervisor');
      await page.screenshot({ path: path.join(artifacts, 'settings-users.png'), fullPage: true });

      // The download link gives a CSV file with a header row.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('a.download:has-text("Download CSV")'),
      ]);
      assert.equal(download.suggestedFilename(), 'users.csv');
      const csv = fs.readFileSync(await download.path(), 'utf8');
      const lines = csv.split('\r\n');
      assert.equal(lines[0], 'name,email,role');
      assert.ok(lines.includes(`${NEW_NAME},${NEW_EMAIL},supervisor`), `new user in CSV:\n${csv}`);

      const res = await page.request.get(`${base}/settings/users?format=csv`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-type'], /^text\/csv/);
      assert.match(res.headers()['content-disposition'], /^attachment; filename="users\.csv"$/);
    },
  },
  {
    name: 'settings: create a team with the new user, and an inbox',
    run: async ({ browser, base, login }) => {
      const page = await desktopOwner(browser, base, login);
      await page.goto(`${base}/settings/teams`);
      await page.fill('#team-name', TEAM);
      await page.locator('#create-team').getByLabel(NEW_NAME).check();
      await page.click('#create-team button[type=submit]');
      await notice(page, 'Team created');
      assert.match(await rowWith(page, TEAM).textContent(), new RegExp(NEW_NAME));

      await page.goto(`${base}/settings/inboxes`);
      await page.fill('#inbox-name', INBOX);
      await page.selectOption('#inbox-channel', 'email');
      await page.fill('#inbox-address', `vip.${RUN}@demo.test`);
      await page.click('#create-inbox button[type=submit]');
      await notice(page, 'Inbox created');
      const row = await rowWith(page, INBOX).textContent();
      assert.match(row, /email/);
      assert.ok(row.includes(`vip.${RUN}@demo.test`), row);
    },
  },
  {
    name: 'settings: an API token works until it is revoked',
    run: async ({ browser, base, login }) => {
      const page = await desktopOwner(browser, base, login);
      await page.goto(`${base}/settings/tokens`);
      await page.fill('#token-name', TOKEN);
      await page.click('#create-token button[type=submit]');
      const secret = await page.inputValue('#token-secret');
      assert.match(secret, /^ctk_[0-9a-f]{48}$/);
      await page.waitForSelector('text=shown only this once');

      const bearer = { Authorization: `Bearer ${secret}` };
      const me = await page.request.get(`${base}/api/v1/me`, { headers: bearer });
      assert.equal(me.status(), 200);
      assert.equal((await me.json()).user.email, 'owner@demo.test');
      // Without any cookie, too: the token alone is enough.
      const bare = await browser.newContext();
      assert.equal((await bare.request.get(`${base}/api/v1/me`, { headers: bearer })).status(), 200);

      await page.click('a:has-text("Back to API tokens")');
      const row = rowWith(page, TOKEN);
      assert.match(await row.textContent(), new RegExp(secret.slice(0, 10)));
      await row.locator('button:has-text("Revoke")').click();
      await notice(page, 'Token revoked');
      assert.equal(await rowWith(page, TOKEN).locator('button:has-text("Revoke")').count(), 0);

      const after = await page.request.get(`${base}/api/v1/me`, { headers: bearer });
      assert.equal(after.status(), 401);
      assert.equal((await bare.request.get(`${base}/api/v1/me`, { headers: bearer })).status(), 401);
    },
  },
  {
    name: 'settings: the audit log shows the added user and exports as CSV',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await desktopOwner(browser, base, login);
      await page.goto(`${base}/settings`);
      await page.click('.cards a:has-text("Audit log")');
      await page.waitForURL((u) => u.pathname === '/settings/audit');
      const entry = rowWith(page, 'user.added').filter({ hasText: NEW_EMAIL });
      await entry.first().waitFor({ timeout: 10_000 });
      const text = await entry.first().textContent();
      assert.match(text, /owner/, 'the actor is named');
      assert.match(text, /agent/, 'the details show the role given');
      await page.screenshot({ path: path.join(artifacts, 'settings-audit.png'), fullPage: true });

      const res = await page.request.get(`${base}/settings/audit?format=csv`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-disposition'], /^attachment; filename="audit-log\.csv"$/);
      const lines = (await res.text()).split('\r\n');
      assert.equal(lines[0], 'time,actor,action,target_kind,target_id,details,ip');
      assert.ok(lines.some((l) => l.includes(',user.added,') && l.includes(NEW_EMAIL)), 'user.added in the CSV');
      assert.ok(lines.some((l) => l.includes(',user.role_changed,')), 'role change in the CSV');
    },
  },
  {
    name: 'settings: skills, team edits and confirmation pages',
    run: async ({ browser, base, login }) => {
      const page = await desktopOwner(browser, base, login);

      await page.goto(`${base}/settings/skills`);
      await page.fill('#skill-name', SKILL);
      await page.click('#create-skill button[type=submit]');
      await notice(page, 'Skill created');
      const person = rowWith(page, NEW_NAME);
      await person.getByLabel(`${SKILL} level of ${NEW_NAME}`).selectOption('4');
      await person.locator('button:has-text("Save")').click();
      await notice(page, 'Skill levels saved');

      // Rename the team and drop its member, then delete it through its confirmation page.
      await page.goto(`${base}/settings/teams`);
      await rowWith(page, TEAM).locator('a:has-text("Edit")').click();
      await page.fill('#team-name', `${TEAM} renamed`);
      await page.locator('#edit-team').getByLabel(NEW_NAME).uncheck();
      await page.click('#edit-team button[type=submit]');
      await notice(page, 'Team saved');
      assert.match(await rowWith(page, `${TEAM} renamed`).textContent(), /No members/);
      await rowWith(page, `${TEAM} renamed`).locator('a:has-text("Delete")').click();
      await page.waitForSelector(`h1:has-text("Delete ${TEAM} renamed")`);
      await page.click('form button.danger');
      await notice(page, 'Team deleted');
      assert.equal(await rowWith(page, TEAM).count(), 0);

      // A dead-job filter is the default; any status can be picked.
      await page.goto(`${base}/settings/jobs`);
      assert.equal(await page.inputValue('#job-status'), 'dead');
      await page.selectOption('#job-status', 'all');
      await page.click('form.filter button[type=submit]');
      await page.waitForURL((u) => u.searchParams.get('status') === 'all');
    },
  },
  {
    name: 'settings: an agent sees no admin forms and a forged post is refused',
    run: async ({ browser, base, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base, { email: 'maya@demo.test' });
      await page.goto(`${base}/settings/users`);
      await page.waitForSelector(`tbody tr:has-text("${NEW_EMAIL}")`);
      assert.equal(await page.locator('#add-user').count(), 0, 'no add-user form');
      assert.equal(await page.locator('select[name=role]').count(), 0, 'no role selects');
      assert.equal(await page.locator('a:has-text("Remove")').count(), 0, 'no remove links');

      const res = await page.request.post(`${base}/settings/users`, {
        form: {
          _csrf: await csrf(page),
          email: `intruder.${RUN}@demo.test`,
          name: 'Intruder',
          role: 'agent',
          password: 'intruder-password',
        },
      });
      assert.equal(res.status(), 403);
      assert.match(await res.text(), /Not allowed/);
      const users = await page.request.get(`${base}/settings/users?format=csv`);
      assert.ok(!(await users.text()).includes('intruder'), 'nobody was added');

      await page.goto(`${base}/settings`);
      await page.waitForSelector('.cards li:has-text("Audit log") >> text=Only admins and owners can see this.');
      assert.equal(await page.locator('.cards a:has-text("Audit log")').count(), 0);
      const audit = await page.goto(`${base}/settings/audit`);
      assert.equal(audit.status(), 403);
    },
  },
  {
    name: 'settings: phone-sized screens do not overflow',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true })).newPage();
      await login(page, base);
      for (const p of ['', '/users', '/teams', '/skills', '/inboxes', '/tokens', '/audit', '/jobs?status=all']) {
        await page.goto(`${base}/settings${p}`);
        await page.waitForSelector('#page-title');
        // Against the phone's width: a mobile browser widens its layout viewport to fit
        // content that overflows, so window.innerWidth would grow along with the page.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth) - PHONE.width;
        assert.ok(overflow <= 1, `/settings${p} is ${overflow}px wider than the screen`);
        // Wide tables scroll inside their own box instead.
        const wraps = await page.$$eval('.table-wrap', (els) => els.map((e) => e.getBoundingClientRect().right));
        for (const right of wraps) assert.ok(right <= PHONE.width + 1, `a table box ends at ${right}px`);
      }
      await page.goto(`${base}/settings/users`);
      await page.screenshot({ path: path.join(artifacts, 'settings-users-phone.png'), fullPage: true });
    },
  },
  {
    name: 'settings: remove a user through the confirmation page',
    run: async ({ browser, base, login }) => {
      const page = await desktopOwner(browser, base, login);
      await page.goto(`${base}/settings/users`);
      await rowWith(page, NEW_EMAIL).locator('a:has-text("Remove")').click();
      await page.waitForSelector(`text=Remove ${NEW_NAME} (${NEW_EMAIL}) from this workspace?`);
      // Cancelling changes nothing.
      await page.click('a:has-text("Cancel")');
      await page.waitForSelector(`tbody tr:has-text("${NEW_EMAIL}")`);
      await rowWith(page, NEW_EMAIL).locator('a:has-text("Remove")').click();
      await page.click(`button:has-text("Remove ${NEW_NAME}")`);
      await notice(page, 'User removed');
      assert.equal(await rowWith(page, NEW_EMAIL).count(), 0);
    },
  },
  {
    // Last on purpose: from here on the demo owner belongs to two workspaces.
    name: 'workspace switcher moves the session to another workspace and back',
    run: async ({ browser, base, login, bin, dataDir }) => {
      await promisify(execFile)(bin, [
        'setup', '--data', dataDir, '--workspace', 'second-desk', '--name', 'Second Desk',
        '--email', 'owner@demo.test', '--password', 'citius-demo-2026',
      ]);
      const page = await desktopOwner(browser, base, login);
      assert.equal(await page.locator('#ws-switch option:checked').textContent(), 'Demo Support');
      await page.selectOption('#ws-switch', 'second-desk');
      await page.click('form.ws-switch button[type=submit]');
      await page.waitForSelector('#ws-switch option[value=second-desk]:checked', { state: 'attached', timeout: 10_000 });
      assert.equal(new URL(page.url()).pathname, '/inbox');
      // A fresh workspace has no conversations, and its own member list.
      await page.goto(`${base}/inbox?view=all`);
      await page.waitForSelector('text=Nothing here.');
      await page.goto(`${base}/settings/users`);
      assert.equal(await page.locator('tbody tr').count(), 1);

      await page.selectOption('#ws-switch', 'demo');
      await page.click('form.ws-switch button[type=submit]');
      await page.waitForSelector('#ws-switch option[value=demo]:checked', { state: 'attached', timeout: 10_000 });
      await page.goto(`${base}/inbox?view=all`);
      await page.waitForSelector('a.conversation-row');
    },
  },
];
