// Routing: the owner routes a demo inbox by team and skill through the settings screen (a
// refused form first, with everything typed kept), Maya raises her capacity and goes online
// from the top bar, a new conversation in that inbox is routed to her with the reason on the
// timeline, and when she steps away it waits in the queue. Also: the presence menu and the
// agents page on a phone, and where the presence form may send the browser back to.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const RUN = Date.now();
const SKILL = `English ${RUN}`;
const INBOX = 'Website chat';

/** The session's CSRF token, published in every page's <meta>. */
async function csrf(page) {
  return page.getAttribute('meta[name=csrf-token]', 'content');
}

/** Calls the JSON API with the page's session cookie and CSRF token. */
async function api(page, method, url, data) {
  const res = await page.request.fetch(url, {
    method,
    data,
    headers: { 'X-CSRF-Token': await csrf(page), 'Content-Type': 'application/json' },
  });
  const body = await res.json().catch(() => null);
  assert.ok(res.ok(), `${method} ${url} -> ${res.status()} ${JSON.stringify(body)}`);
  return body;
}

async function submitAndWait(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

async function notice(page, text) {
  await page.waitForSelector(`[role=status]:has-text("${text}")`, { timeout: 10_000 });
}

/** The status the top bar shows. */
async function presenceShown(page) {
  return (await page.textContent('#presence-menu summary .presence-label')).trim();
}

/** Sets the signed-in user's status with the top-bar menu, by mouse. */
async function setPresence(page, value) {
  await page.click('#presence-menu summary');
  await page.waitForSelector('#presence-form', { state: 'visible' });
  await submitAndWait(page, `#presence-form button[name=presence][value=${value}]`);
}

async function assertNoSidewaysScroll(page, what) {
  const overflow = await page.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
  assert.ok(overflow <= 1, `${what}: page is ${overflow}px wider than the screen`);
}

export default [
  {
    name: 'routing: a policy set in settings routes a new chat to Maya while she is online, and queues it when she steps away',
    run: async ({ browser, base, artifacts, login }) => {
      const owner = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(owner, base);

      // A skill for the rule, and Maya has it.
      await owner.goto(`${base}/settings/skills`);
      await owner.fill('#skill-name', SKILL);
      await submitAndWait(owner, '#create-skill button[type=submit]');
      await notice(owner, 'Skill created');
      const mayaRow = owner.locator('tbody tr', { hasText: 'Maya Lopez' });
      await mayaRow.getByLabel(`${SKILL} level of Maya Lopez`).selectOption('3');
      await mayaRow.locator('button:has-text("Save")').click();
      await notice(owner, 'Skill levels saved');

      // Settings → Routing lists every inbox; the chat inbox does not route yet.
      await owner.goto(`${base}/settings`);
      await owner.click('.cards a:has-text("Routing")');
      await owner.waitForURL((u) => u.pathname === '/settings/routing');
      assert.equal(await owner.getAttribute('.subnav a:has-text("Routing")', 'aria-current'), 'page');
      const row = owner.locator('tbody tr', { hasText: INBOX });
      assert.match(await row.textContent(), /Not routed/);
      const inboxId = Number(await row.getAttribute('data-inbox'));
      await row.locator('a:has-text("Set up")').click();
      await owner.waitForURL((u) => u.pathname === `/settings/routing/${inboxId}`);

      // An overflow team without the time to wait is refused beside the field; nothing typed is lost.
      await owner.selectOption('#rt-strategy', 'least_loaded');
      await owner.selectOption('#rt-team', { label: 'Support' });
      await owner.selectOption('#rule-1-field', 'language');
      await owner.fill('#rule-1-equals', 'en');
      await owner.selectOption('#rule-1-skill', { label: SKILL });
      await owner.selectOption('#rule-1-level', '2');
      await owner.selectOption('#rt-overflow-team', { label: 'Billing' });
      await submitAndWait(owner, '#save-policy');
      await owner.waitForSelector('#policy-error[role=alert]');
      assert.match(await owner.textContent('#rt-overflow-team-error'), /Give both an overflow team and the minutes to wait/);
      assert.equal(await owner.getAttribute('#rt-overflow-team', 'aria-invalid'), 'true');
      assert.equal(await owner.evaluate(() => document.activeElement?.id), 'rt-overflow-team', 'the cursor waits in the field to fix');
      assert.equal(await owner.inputValue('#rt-strategy'), 'least_loaded');
      assert.equal(await owner.$eval('#rt-team', (s) => s.selectedOptions[0].textContent), 'Support');
      assert.equal(await owner.inputValue('#rule-1-field'), 'language');
      assert.equal(await owner.inputValue('#rule-1-equals'), 'en');
      assert.equal(await owner.$eval('#rule-1-skill', (s) => s.selectedOptions[0].textContent), SKILL);
      assert.equal(await owner.inputValue('#rule-1-level'), '2');
      assert.equal(await owner.$eval('#rt-overflow-team', (s) => s.selectedOptions[0].textContent), 'Billing');
      assert.equal(await owner.inputValue('#rule-2-equals'), '', 'an empty row to add another rule');
      await owner.screenshot({ path: path.join(artifacts, 'settings-routing-error.png'), fullPage: true });

      // More rows come with a button; rows left empty are ignored.
      await owner.click('button:has-text("Add another rule")');
      assert.equal(await owner.getAttribute('#rule-3-equals', 'name'), 'rule_3_equals');
      assert.equal(await owner.textContent('#rule-rows > li:nth-child(3) legend'), 'Rule 3');
      assert.equal(await owner.evaluate(() => document.activeElement?.id), 'rule-3-field');
      await owner.fill('#rt-overflow-after', '30');
      await submitAndWait(owner, '#save-policy');
      await notice(owner, 'Routing saved');
      const saved = await owner.locator('tbody tr', { hasText: INBOX }).textContent();
      assert.match(saved, /Least loaded/);
      assert.match(saved, /Support/);
      assert.ok(saved.includes(`Needs ${SKILL} (level 2+) when the language is en (English)`), saved);
      assert.match(saved, /To Billing after 30 min/);
      await owner.screenshot({ path: path.join(artifacts, 'settings-routing.png'), fullPage: true });

      // The table downloads as CSV like the other settings tables.
      const [download] = await Promise.all([
        owner.waitForEvent('download'),
        owner.click('a.download:has-text("Download CSV")'),
      ]);
      assert.equal(download.suggestedFilename(), 'routing.csv');
      const res = await owner.request.get(`${base}/settings/routing?format=csv`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-type'], /^text\/csv/);
      const lines = (await res.text()).split('\r\n');
      assert.equal(lines[0], 'inbox,channel,strategy,team,skill_rules,overflow_team,overflow_after_secs');
      assert.ok(
        lines.includes(`${INBOX},chat,least_loaded,Support,Needs ${SKILL} (level 2+) when the language is en (English),Billing,1800`),
        lines.join('\n'),
      );

      // Maya starts offline, raises her chat capacity on the agents page, then goes online from
      // the top bar, by keyboard.
      const maya = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(maya, base, { email: 'maya@demo.test' });
      const me = await api(maya, 'GET', `${base}/api/v1/me`);
      assert.equal(await presenceShown(maya), 'Offline');
      await maya.click('nav[aria-label=Main] a:has-text("Agents")');
      await maya.waitForURL((u) => u.pathname === '/agents');
      await maya.fill('#cap-chat', '5');
      await submitAndWait(maya, '#mine-form button[type=submit]');
      await notice(maya, 'Your status and capacity are saved');
      assert.equal(await maya.inputValue('#cap-chat'), '5');

      await maya.focus('#presence-menu summary');
      await maya.keyboard.press('Enter');
      await maya.waitForSelector('#presence-form', { state: 'visible' });
      await maya.keyboard.press('Escape');
      assert.equal(await maya.$eval('#presence-menu', (d) => d.open), false, 'Escape closes the menu');
      assert.equal(await maya.evaluate(() => document.activeElement?.tagName), 'SUMMARY', 'focus goes back to the menu');
      await maya.keyboard.press('Enter');
      await maya.keyboard.press('Tab');
      assert.equal(await maya.evaluate(() => document.activeElement?.value), 'online', 'the first choice follows the menu');
      // Online: the page says so and tells the server she is still there, with the CSRF header.
      const heartbeat = maya.waitForResponse((r) => r.url().endsWith('/api/v1/presence/heartbeat'));
      await Promise.all([maya.waitForNavigation({ waitUntil: 'load' }), maya.keyboard.press('Enter')]);
      assert.equal(new URL(maya.url()).pathname, '/agents', 'back on the page she was on');
      assert.equal(await presenceShown(maya), 'Online');
      const beat = await heartbeat;
      assert.equal(beat.status(), 204);
      assert.ok(beat.request().headers()['x-csrf-token'], 'the heartbeat carries the CSRF token');
      const mine = maya.locator('tbody tr', { hasText: 'Maya Lopez' });
      assert.match(await mine.textContent(), /Online/);
      assert.match(await mine.locator('td[data-channel=Chat]').textContent(), /^\d+\/5/);
      await maya.screenshot({ path: path.join(artifacts, 'agents.png'), fullPage: true });

      // A new chat in the routed inbox goes to Maya at once.
      const conv = await api(owner, 'POST', `${base}/api/v1/conversations`, {
        customer: { email: `routing-${RUN}@example.com`, name: 'Rita Route' },
        subject: `Cannot sign in ${RUN}`,
        body: 'Hello, I cannot sign in to my account since this morning. Could you please help me with the password? Thank you.',
        kind: 'inbound',
        channel: 'chat',
        inbox_id: inboxId,
      });
      assert.equal(conv.assignee_id, me.user.id, 'routed to Maya');

      await maya.goto(`${base}/conversations/${conv.id}`);
      const routed = await maya.waitForSelector('#timeline .event:has-text("Routed to Maya Lopez")');
      assert.match(
        await routed.textContent(),
        /Routed to Maya Lopez: (the only eligible agent|least loaded of \d+ eligible agents) \(\d+ of 5 chats\)/,
      );
      assert.equal(await maya.$('#queue'), null, 'an assigned conversation is not waiting');
      assert.equal(await maya.$eval('#assignee', (s) => s.selectedOptions[0].textContent), 'Maya Lopez');
      await maya.screenshot({ path: path.join(artifacts, 'routing-conversation-routed.png'), fullPage: true });

      // Stepping away puts it back in the queue, and the page says where it stands.
      await setPresence(maya, 'away');
      assert.equal(new URL(maya.url()).pathname, `/conversations/${conv.id}`);
      assert.equal(await presenceShown(maya), 'Away');
      const queue = await maya.waitForSelector('#queue');
      assert.match(await queue.textContent(), /Waiting in queue: position \d+ of \d+/);
      await maya.waitForSelector('#timeline .event:has-text("Back in the queue: the agent is away")');
      assert.equal(await maya.$eval('#assignee', (s) => s.selectedOptions[0].textContent), 'Unassigned');
      await owner.goto(`${base}/conversations/${conv.id}`);
      await owner.waitForSelector('#queue:has-text("Waiting in queue: position")');
      await maya.screenshot({ path: path.join(artifacts, 'routing-conversation-queued.png'), fullPage: true });

      // The presence form only sends the browser back within the site, and needs the token.
      const away = await maya.request.post(`${base}/presence`, {
        form: { _csrf: await csrf(maya), presence: 'away', back: '//evil.example/x' },
        maxRedirects: 0,
      });
      assert.equal(away.status(), 303);
      assert.equal(away.headers().location, '/inbox');
      const back = await maya.request.post(`${base}/presence`, {
        form: { _csrf: await csrf(maya), presence: 'away', back: '/conversations/1/update' },
        maxRedirects: 0,
      });
      assert.equal(back.headers().location, '/conversations/1', 'a form address leads to its page');
      const forged = await maya.request.post(`${base}/presence`, { form: { presence: 'online' }, maxRedirects: 0 });
      assert.equal(forged.status(), 403);
      await maya.reload();
      assert.equal(await presenceShown(maya), 'Away', 'the forged post changed nothing');

      // Routing settings are for admins only.
      const refused = await maya.goto(`${base}/settings/routing`);
      assert.equal(refused.status(), 403);
      await maya.goto(`${base}/settings`);
      assert.equal(await maya.locator('.cards a:has-text("Routing")').count(), 0);

      // The edit form opens with the stored policy; a rule can be removed and another added.
      await owner.goto(`${base}/settings/routing/${inboxId}`);
      assert.equal(await owner.inputValue('#rule-1-equals'), 'en');
      assert.equal(await owner.inputValue('#rt-overflow-after'), '30');
      await owner.check('input[name=rule_1_remove]');
      await owner.selectOption('#rule-2-field', 'tag');
      await owner.fill('#rule-2-equals', 'VIP');
      await owner.selectOption('#rule-2-skill', { label: SKILL });
      await owner.selectOption('#rule-2-level', '4');
      await submitAndWait(owner, '#save-policy');
      await notice(owner, 'Routing saved');
      const edited = await owner.locator('tbody tr', { hasText: INBOX }).textContent();
      assert.ok(edited.includes(`Needs ${SKILL} (level 4+) when tagged “vip”`), edited);
      assert.ok(!edited.includes('when the language is en'), edited);

      // Stopping routing goes through a confirmation and empties the row again.
      await owner.goto(`${base}/settings/routing/${inboxId}`);
      await owner.click('a:has-text("Stop routing this inbox")');
      await owner.waitForSelector(`h1:has-text("Stop routing ${INBOX}")`);
      await submitAndWait(owner, 'form button.danger');
      await notice(owner, 'Routing stopped');
      assert.match(await owner.locator('tbody tr', { hasText: INBOX }).textContent(), /Not routed/);
    },
  },
  {
    name: 'routing: presence menu and agents page on a phone-sized screen',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true })).newPage();
      await login(page, base, { email: 'sam@demo.test' });
      assert.ok(await page.isVisible('#presence-menu summary'), 'the status is in the top bar');
      await page.click('#presence-menu summary');
      await page.waitForSelector('#presence-form', { state: 'visible' });
      await assertNoSidewaysScroll(page, 'open presence menu');
      const box = await (await page.$('.presence-panel')).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the menu fits the screen (${JSON.stringify(box)})`);
      await page.screenshot({ path: path.join(artifacts, 'presence-menu-phone.png') });
      await submitAndWait(page, '#presence-form button[value=busy]');
      assert.equal(new URL(page.url()).pathname, '/inbox');
      assert.equal(await presenceShown(page), 'Busy');

      await page.goto(`${base}/agents`);
      await page.waitForSelector('#page-title');
      await assertNoSidewaysScroll(page, 'agents page');
      const right = await page.$eval('.table-wrap', (e) => e.getBoundingClientRect().right);
      assert.ok(right <= PHONE.width + 1, `the table box ends at ${right}px`);
      const sam = page.locator('tbody tr', { hasText: 'Sam Okafor' });
      assert.match(await sam.textContent(), /Busy/);

      // A capacity the use case refuses is shown at its field, with what was typed.
      await page.evaluate(() => document.getElementById('cap-chat').removeAttribute('max'));
      await page.fill('#cap-chat', '500');
      await page.fill('#cap-email', '7');
      await submitAndWait(page, '#mine-form button[type=submit]');
      await page.waitForSelector('#mine-error[role=alert]');
      assert.match(await page.textContent('#cap-chat-error'), /Chat capacity must be a whole number from 0 to 100/);
      assert.equal(await page.getAttribute('#cap-chat', 'aria-invalid'), 'true');
      assert.equal(await page.inputValue('#cap-chat'), '500');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'cap-chat', 'the cursor waits in the field to fix');
      assert.equal(await page.inputValue('#cap-email'), '7');
      assert.equal(await page.inputValue('#mine-presence'), 'busy');
      await assertNoSidewaysScroll(page, 'agents page with an error');
      await page.screenshot({ path: path.join(artifacts, 'agents-phone.png'), fullPage: true });

      await page.fill('#cap-chat', '4');
      await page.selectOption('#mine-presence', 'offline');
      await submitAndWait(page, '#mine-form button[type=submit]');
      await notice(page, 'Your status and capacity are saved');
      assert.equal(await presenceShown(page), 'Offline');
      assert.match(await page.locator('tbody tr', { hasText: 'Sam Okafor' }).locator('td[data-channel=Chat]').textContent(), /^\d+\/4/);
      assert.match(await page.locator('tbody tr', { hasText: 'Sam Okafor' }).locator('td[data-channel=Email]').textContent(), /^\d+\/7/);

      // The routing settings fit a phone too, the rule rows included.
      const owner = await (await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true })).newPage();
      await login(owner, base);
      await owner.goto(`${base}/settings/routing`);
      await owner.waitForSelector('#page-title');
      await assertNoSidewaysScroll(owner, 'routing settings');
      await owner.locator('tbody tr', { hasText: INBOX }).locator('a[href^="/settings/routing/"]').click();
      await owner.waitForSelector('#policy-form');
      await assertNoSidewaysScroll(owner, 'routing policy form');
      await owner.screenshot({ path: path.join(artifacts, 'settings-routing-policy-phone.png'), fullPage: true });

      // The CSV has a row per member with load and capacity per channel.
      const res = await page.request.get(`${base}/agents?format=csv`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-disposition'], /^attachment; filename="agents\.csv"$/);
      const lines = (await res.text()).split('\r\n');
      assert.match(lines[0], /^name,presence,chat_open,chat_capacity,email_open,email_capacity,.*,last_seen,on_shift$/);
      assert.ok(lines.some((l) => /^Sam Okafor,offline,\d+,4,\d+,7,/.test(l)), lines.join('\n'));
    },
  },
];
