// Working hours: the owner gives Maya a calendar that is closed today from the agents page;
// she shows as off shift (online agents off shift get no new conversations), and back on
// shift with a calendar open every day. Also on a phone.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const RUN = Date.now();

async function csrf(page) {
  return page.getAttribute('meta[name=csrf-token]', 'content');
}

async function calendar(page, base, name, days) {
  const res = await page.request.post(`${base}/api/v1/calendars`, {
    data: { name, time_zone: 'UTC', hours: days.map((d) => ({ day: DAYS[d], open: '00:00', close: '24:00' })) },
    headers: { 'X-CSRF-Token': await csrf(page) },
  });
  assert.equal(res.status(), 201, await res.text());
  return (await res.json()).id;
}

async function mayaShift(page) {
  return (await page.locator('tbody tr', { hasText: 'Maya Lopez' }).locator('td.shift').textContent()).replace(/\s+/g, ' ');
}

export default [
  {
    name: 'schedules: an agent off shift is marked so, and back on shift with an every-day calendar',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      const today = (new Date().getUTCDay() + 6) % 7;
      const closed = `Closed today ${RUN}`;
      const open = `Every day ${RUN}`;
      await calendar(page, base, closed, [(today + 3) % 7]);
      await calendar(page, base, open, [0, 1, 2, 3, 4, 5, 6]);

      await page.goto(`${base}/agents`);
      const row = page.locator('tbody tr', { hasText: 'Maya Lopez' });
      await row.getByLabel('Working hours of Maya Lopez').selectOption({ label: closed });
      await Promise.all([page.waitForNavigation(), row.locator('button:has-text("Save")').click()]);
      await page.waitForSelector('[role=status]:has-text("Working hours saved")');
      assert.match(await mayaShift(page), new RegExp(`Off shift ${closed}`));
      await page.screenshot({ path: path.join(artifacts, 'agents-schedules.png'), fullPage: true });

      await page.locator('tbody tr', { hasText: 'Maya Lopez' }).getByLabel('Working hours of Maya Lopez').selectOption({ label: open });
      await Promise.all([page.waitForNavigation(), page.locator('tbody tr', { hasText: 'Maya Lopez' }).locator('button:has-text("Save")').click()]);
      assert.match(await mayaShift(page), new RegExp(`On shift ${open}`));

      // Back to any time, so other tests see the demo as it was.
      await page.locator('tbody tr', { hasText: 'Maya Lopez' }).getByLabel('Working hours of Maya Lopez').selectOption({ label: 'Any time' });
      await Promise.all([page.waitForNavigation(), page.locator('tbody tr', { hasText: 'Maya Lopez' }).locator('button:has-text("Save")').click()]);
      assert.match(await mayaShift(page), /Any time/);

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(`${base}/agents`);
      await phone.screenshot({ path: path.join(artifacts, 'agents-phone-schedules.png'), fullPage: true });
    },
  },
];
