// Inbox filters and saved views: an agent filters the inbox to one channel, saves it as a view,
// finds it in the sidebar after a reload, and deletes it.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };

export default [
  {
    name: 'inbox: filter by channel, save as a view, open it again, delete it',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/inbox?view=all`);
      await page.click('#filters summary');
      await page.selectOption('#f-channel', 'email');
      await page.selectOption('#f-status', 'open,pending');
      await Promise.all([page.waitForNavigation(), page.click('#filter-form button[type=submit]')]);
      const badges = await page.locator('#conversation-list .badge.channel').allTextContents();
      assert.ok(badges.length > 0, 'the demo has open email conversations');
      assert.ok(badges.every((b) => b.trim() === 'email'), `only email: ${badges}`);

      const name = `Open email ${Date.now()}`;
      await page.fill('#view-name', name);
      await Promise.all([page.waitForNavigation(), page.click('#save-view button[type=submit]')]);
      assert.match(page.url(), /\/inbox\?saved=\d+/);
      await page.reload();
      const link = page.locator('#saved-views a', { hasText: name });
      assert.equal(await link.getAttribute('aria-current'), 'page');
      assert.match(await page.locator('#inbox-title').textContent(), new RegExp(name));
      const again = await page.locator('#conversation-list .badge.channel').allTextContents();
      assert.deepEqual(again, badges, 'the saved view shows the same conversations');
      await page.screenshot({ path: path.join(artifacts, 'inbox-saved-view.png'), fullPage: true });

      await Promise.all([page.waitForNavigation(), page.click('#delete-view')]);
      assert.equal(await page.locator('#saved-views a', { hasText: name }).count(), 0);

      // Maya's team has a view of its own in her sidebar.
      const maya = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(maya, base, { email: 'maya@demo.test' });
      await maya.goto(`${base}/inbox`);
      const team = maya.locator('#team-views a').first();
      await Promise.all([maya.waitForNavigation(), team.click()]);
      assert.equal(await maya.locator('#team-views a').first().getAttribute('aria-current'), 'page');
      assert.equal(await maya.locator('#f-status').inputValue(), 'open,pending');
    },
  },
  {
    name: 'mentions: a note calls a colleague in; she finds it under Mentions and it turns seen',
    run: async ({ browser, base, artifacts, login }) => {
      const owner = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(owner, base);
      await owner.goto(`${base}/inbox?view=all`);
      await Promise.all([owner.waitForURL(/\/conversations\/\d+/), owner.locator('#conversation-list a.conversation-row').first().click()]);
      const note = `@maya can you check the refund? (${Date.now()})`;
      await owner.fill('#body', note);
      await owner.check('input[name=kind][value=note]');
      await Promise.all([owner.waitForNavigation(), owner.click('button[name=send]')]);
      await owner.locator('.event:has-text("mentioned Maya Lopez")').waitFor();

      const maya = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(maya, base, { email: 'maya@demo.test' });
      await maya.goto(`${base}/inbox`);
      assert.match(await maya.locator("#mentions-link").textContent(), /Mentions\s*[1-9]/, "an unseen count");
      await maya.click('#mentions-link');
      const item = maya.locator('#mentions li', { hasText: 'can you check the refund' }).first();
      assert.match(await item.textContent(), /new/);
      await maya.screenshot({ path: path.join(artifacts, 'mentions.png'), fullPage: true });
      await Promise.all([maya.waitForURL(/\/conversations\/\d+/), item.locator('a').click()]);
      await maya.locator('.message.note', { hasText: 'can you check the refund' }).waitFor();
      // Opening the conversation reports her there, which marks the mention seen.
      await maya.waitForTimeout(500);
      await maya.goto(`${base}/mentions`);
      assert.doesNotMatch(await maya.locator('#mentions li', { hasText: 'can you check the refund' }).first().textContent(), /new/);
    },
  },
  {
    name: 'inbox: tick unassigned conversations and take them in one go',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/inbox?view=unassigned`);
      const rows = page.locator('#conversation-list li.selectable');
      assert.ok(await rows.count() >= 2, 'the demo has unassigned conversations');
      const subjects = [];
      for (const i of [0, 1]) {
        subjects.push((await rows.nth(i).locator('.subject').textContent()).trim());
        await rows.nth(i).locator('input.pick').check();
      }
      await page.selectOption('#bulk-action', 'assign_me');
      await page.screenshot({ path: path.join(artifacts, 'inbox-bulk.png'), fullPage: true });
      await Promise.all([page.waitForNavigation(), page.click('#bulk-apply')]);
      assert.match(page.url(), /view=unassigned/, 'back on the same list');
      const left = await page.locator('#conversation-list .subject').allTextContents();
      for (const s of subjects) assert.ok(!left.map((x) => x.trim()).includes(s), `${s} is no longer unassigned`);
      await page.goto(`${base}/inbox?view=mine`);
      const mine = (await page.locator('#conversation-list .subject').allTextContents()).map((x) => x.trim());
      for (const s of subjects) assert.ok(mine.includes(s), `${s} is mine now`);
    },
  },
];
