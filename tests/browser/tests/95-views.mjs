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
      await maya.selectOption('#sort', 'oldest');
      await Promise.all([maya.waitForURL(/sort=oldest/), maya.click('#sort-form button[type=submit]')]);
      assert.equal(await maya.locator('#team-views a').first().getAttribute('aria-current'), 'page', 'sorting keeps the team view');
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
  {
    name: 'inbox: sort waiting longest first; keyboard: ? lists the shortcuts, j/k/x/o in the list, a and e on a conversation, g i home',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/inbox?view=all`);
      const times = async () => page.locator('#conversation-list time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime'))));
      const latest = await times();
      assert.ok(latest.length >= 3, 'the demo has open conversations');
      assert.deepEqual(latest, [...latest].sort((a, b) => b - a), 'latest activity first by default');
      await page.selectOption('#sort', 'oldest');
      await Promise.all([page.waitForURL(/sort=oldest/), page.click('#sort-form button[type=submit]')]);
      const oldest = await times();
      assert.deepEqual(oldest, [...oldest].sort((a, b) => a - b), 'waiting longest first');
      assert.ok(oldest[0] <= latest[latest.length - 1], 'the oldest comes first');
      assert.match(page.url(), /view=all/, 'still the same view');
      assert.match(await page.locator('#conversation-list').getAttribute('data-live-list'), /sort=oldest/, 'live updates keep the order');
      assert.equal(await page.locator('#sort').inputValue(), 'oldest');
      await page.screenshot({ path: path.join(artifacts, 'inbox-sorted.png'), fullPage: true });

      await page.keyboard.press('?');
      const dialog = page.locator('#shortcuts');
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /Keyboard shortcuts/);
      await page.screenshot({ path: path.join(artifacts, 'shortcuts.png') });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await page.click('#shortcuts-button');
      await dialog.waitFor({ state: 'visible' });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });

      const rows = page.locator('#conversation-list a.conversation-row');
      await page.keyboard.press('j');
      await page.keyboard.press('j');
      assert.match(await rows.nth(1).getAttribute('class'), /kbd-current/, 'j moved to the second row');
      await page.keyboard.press('k');
      assert.match(await rows.nth(0).getAttribute('class'), /kbd-current/, 'k moved back');
      assert.equal(await rows.nth(1).evaluate((a) => a.classList.contains('kbd-current')), false);
      await page.keyboard.press('x');
      assert.equal(await page.locator('#conversation-list input.pick').nth(0).isChecked(), true, 'x ticked the row');
      await page.keyboard.press('x');
      assert.equal(await page.locator('#conversation-list input.pick').nth(0).isChecked(), false, 'x again unticked it');
      const href = await rows.nth(0).getAttribute('href');
      await Promise.all([page.waitForURL((u) => u.pathname === href), page.keyboard.press('o')]);

      const me = await page.locator('#assignee option[data-me]').getAttribute('value');
      await Promise.all([page.waitForNavigation(), page.keyboard.press('a')]);
      assert.equal(await page.locator('#assignee').inputValue(), me, 'a assigned it to me');
      // An unsaved edit in the side form is not sent along with the shortcut.
      const priority = await page.locator('#priority').inputValue();
      const other = priority === 'low' ? 'urgent' : 'low';
      await page.selectOption('#priority', other);
      await page.evaluate(() => document.activeElement.blur());
      await Promise.all([page.waitForNavigation(), page.keyboard.press('e')]);
      assert.equal(await page.locator('#status').inputValue(), 'resolved', 'e resolved it');
      assert.equal(await page.locator('#priority').inputValue(), priority, 'only the status changed');
      await page.keyboard.press('r');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'body', 'r opened the reply box');
      assert.equal(await page.locator('input[name=kind][value=reply]').isChecked(), true);
      await page.keyboard.press('Escape');
      assert.notEqual(await page.evaluate(() => document.activeElement.id), 'body', 'Escape left the box');
      await Promise.all([page.waitForURL(/\/inbox$/), (async () => { await page.keyboard.press('g'); await page.keyboard.press('i'); })()]);

      // A phone has no keyboard to speak of: the header keeps its room.
      const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await login(phone, base);
      await phone.goto(`${base}/inbox`);
      assert.equal(await phone.locator('#shortcuts-entry').isVisible(), false, 'no shortcuts entry on a phone');
    },
  },
];
