// Business hours and SLA policies through settings: a refused calendar keeps what was typed,
// a policy for urgent conversations is added and ordered first, and a new urgent conversation
// shows its first-response clock on the conversation page (also on a phone).
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
    name: 'sla: business hours and a policy set in settings give an urgent conversation its clock',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);

      await page.goto(`${base}/settings`);
      await page.click('.cards a:has-text("Business hours")');
      await page.waitForURL((u) => u.pathname === '/settings/hours');
      const hours = `Support desk ${RUN}`;
      await page.fill('#hours-name', hours);
      await page.fill('#hours-tz', 'Mars/Olympus');
      await page.fill('#hours-holidays', '2026-12-25 Christmas');
      await submitAndWait(page, '#create-hours button[type=submit]');
      assert.match(await page.textContent('#hours-error'), /time zone/i);
      assert.equal(await page.inputValue('#hours-name'), hours, 'the name typed is kept');
      assert.equal(await page.inputValue('#hours-holidays'), '2026-12-25 Christmas');
      await page.fill('#hours-tz', 'Europe/Berlin');
      await submitAndWait(page, '#create-hours button[type=submit]');
      await page.waitForSelector('[role=status]:has-text("Business hours saved")');
      assert.match(await page.locator('tbody tr', { hasText: hours }).textContent(), /Mon 09:00–17:00/);

      await page.click('.subnav a:has-text("SLA policies")');
      await page.waitForURL((u) => u.pathname === '/settings/sla');
      const general = `General ${RUN}`;
      await page.fill('#sla-name', general);
      await page.selectOption('#sla-calendar', { label: hours });
      await submitAndWait(page, '#create-sla button[type=submit]');
      await page.waitForSelector('[role=status]:has-text("SLA policy saved")');

      const urgent = `Urgent ${RUN}`;
      await page.fill('#sla-name', urgent);
      await page.check('input[name=priority_urgent]');
      await page.fill('#sla-first', '30');
      await page.fill('#sla-warn', '45');
      await submitAndWait(page, '#create-sla button[type=submit]');
      assert.match(await page.textContent('#sla-error'), /warn before/i, 'a warning after the target is refused');
      assert.equal(await page.inputValue('#sla-name'), urgent);
      assert.ok(await page.isChecked('input[name=priority_urgent]'), 'ticked boxes stay ticked');
      await page.fill('#sla-warn', '10');
      await submitAndWait(page, '#create-sla button[type=submit]');
      await page.waitForSelector('[role=status]:has-text("SLA policy saved")');
      // Urgent goes first, above the catch-all.
      const row = page.locator('tbody tr', { hasText: urgent });
      await Promise.all([page.waitForNavigation(), row.locator('button[value=up]').click()]);
      const names = await page.locator('tbody tr td:first-child').allTextContents();
      assert.ok(names.findIndex((n) => n.includes(urgent)) < names.findIndex((n) => n.includes(general)), names.join(' | '));
      await page.screenshot({ path: path.join(artifacts, 'settings-sla.png'), fullPage: true });

      const res = await page.request.post(`${base}/api/v1/conversations`, {
        data: { customer: { email: `sla-${RUN}@example.com` }, subject: 'Checkout is down', body: 'Nobody can pay', priority: 'urgent' },
        headers: { 'X-CSRF-Token': await page.getAttribute('meta[name=csrf-token]', 'content') },
      });
      assert.equal(res.status(), 201, await res.text());
      const conv = await res.json();
      // The clocks start when the server has handled the new conversation's events.
      let text = '';
      for (let i = 0; i < 50 && !text.includes('First response'); i++) {
        await page.goto(`${base}/conversations/${conv.id}`);
        text = (await page.locator('aside .sla').textContent({ timeout: 300 }).catch(() => '')) || '';
        if (!text.includes('First response')) await page.waitForTimeout(200);
      }
      assert.match(text, new RegExp(urgent));
      assert.match(text.replace(/\s+/g, ' '), /First response due in (29|30) min/);
      await page.screenshot({ path: path.join(artifacts, 'conversation-sla.png'), fullPage: true });

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(`${base}/conversations/${conv.id}`);
      await phone.waitForSelector('aside .sla');
      await phone.screenshot({ path: path.join(artifacts, 'conversation-sla-phone.png'), fullPage: true });
      const overflow = await phone.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
      assert.ok(overflow <= 1, `conversation page is ${overflow}px wider than a phone`);
    },
  },
];
