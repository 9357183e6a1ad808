// Automation: the owner writes a rule in settings (a refused value first, with the form kept),
// tries it on past conversations, saves it, and a customer's message about a refund is raised
// to urgent and tagged by it, with the run in the log. The rule is then turned off and deleted.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const RUN = Date.now();

async function submitAndWait(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

export default [
  {
    name: 'automation: a rule written in settings raises a refund request to urgent, with a dry run and a log',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/settings`);
      await page.click('.cards a:has-text("Automation")');
      await page.waitForURL((u) => u.pathname === '/settings/automation');

      const name = `Refunds first ${RUN}`;
      await page.fill('#rule-name', name);
      await page.selectOption('#rule-trigger', 'message_received');
      await page.selectOption('#cond-field-0', 'message');
      await page.selectOption('#cond-op-0', 'contains');
      await page.fill('#cond-value-0', 'refund');
      await page.selectOption('#act-type-0', 'set_priority');
      await page.fill('#act-value-0', 'asap');
      await page.selectOption('#act-type-1', 'add_tags');
      await page.fill('#act-value-1', `refund-${RUN}`);
      await submitAndWait(page, '#create-rule button[type=submit]:not([name])');
      assert.match(await page.textContent('#rule-error'), /low, normal, high or urgent/);
      assert.equal(await page.inputValue('#rule-name'), name, 'the form is kept');
      assert.equal(await page.inputValue('#cond-value-0'), 'refund');
      await page.fill('#act-value-0', 'urgent');

      // A dry run changes nothing and says how many recent conversations would match.
      await submitAndWait(page, '#create-rule button[name=dry_run]');
      assert.match(await page.textContent('#dry-run-report'), /Tried on the \d+ most recent conversations: it would have acted on \d+\. .*Nothing was changed\./s);
      assert.equal(await page.inputValue('#act-value-0'), 'urgent');
      await submitAndWait(page, '#create-rule button[type=submit]:not([name])');
      await page.waitForSelector('[role=status]:has-text("Rule saved")');
      assert.match(await page.locator('#rules tbody tr', { hasText: name }).textContent(), /The customer writes.*message contains .refund.*priority urgent · tag refund-/s);
      await page.screenshot({ path: path.join(artifacts, 'settings-automation.png'), fullPage: true });

      // Editing shows the rule as saved and keeps what is not changed.
      await Promise.all([page.waitForNavigation(), page.locator('#rules tbody tr', { hasText: name }).locator('a:has-text("Edit")').click()]);
      assert.match(await page.textContent('#create-title'), /Edit rule/);
      assert.equal(await page.inputValue('#rule-name'), name);
      assert.equal(await page.inputValue('#cond-value-0'), 'refund');
      assert.equal(await page.inputValue('#act-type-0'), 'set_priority');
      assert.equal(await page.inputValue('#act-value-0'), 'urgent');
      await page.selectOption('#act-type-2', 'add_note');
      await page.fill('#act-value-2', 'Refund asked: check the order first.');
      await submitAndWait(page, '#create-rule button[type=submit]:not([name])');
      await page.waitForSelector('[role=status]:has-text("Rule saved")');
      assert.match(await page.locator('#rules tbody tr', { hasText: name }).textContent(), /add a note/);
      assert.equal(await page.locator('#rules tbody tr', { hasText: name }).count(), 1, 'edited, not added');

      const res = await page.request.post(`${base}/api/v1/conversations`, {
        data: { customer: { email: `auto-${RUN}@example.com` }, subject: 'Broken kettle', body: 'I would like a refund, please.' },
        headers: { 'X-CSRF-Token': await page.getAttribute('meta[name=csrf-token]', 'content') },
      });
      assert.equal(res.status(), 201, await res.text());
      const conv = await res.json();
      let c = conv;
      for (let i = 0; i < 60 && c.priority !== 'urgent'; i++) {
        await page.waitForTimeout(200);
        c = await (await page.request.get(`${base}/api/v1/conversations/${conv.id}`)).json();
      }
      assert.equal(c.priority, 'urgent', JSON.stringify(c));
      assert.ok(c.tags.includes(`refund-${RUN}`), JSON.stringify(c));
      await page.goto(`${base}/conversations/${conv.id}`);
      assert.match(await page.textContent('main'), new RegExp(`Rule .${name}. changed the priority from normal to urgent`));

      await page.goto(`${base}/settings/automation`);
      const run = page.locator('#runs tbody tr', { hasText: name }).first();
      assert.match(await run.textContent(), /applied/);
      await submitAndWait(page, `#rules tr:has-text("${name}") button:has-text("Turn off")`);
      assert.match(await page.locator('#rules tbody tr', { hasText: name }).textContent(), /off/);
      await submitAndWait(page, `#rules tr:has-text("${name}") button:has-text("Delete")`);
      await page.waitForSelector('[role=status]:has-text("Rule deleted")');

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(`${base}/settings/automation`);
      await phone.screenshot({ path: path.join(artifacts, 'settings-automation-phone.png'), fullPage: true });
      const overflow = await phone.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
      assert.ok(overflow <= 1, `automation page is ${overflow}px wider than a phone`);
    },
  },
];
