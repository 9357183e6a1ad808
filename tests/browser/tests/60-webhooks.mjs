// Webhooks: the owner adds an endpoint from settings (a private address is refused first, with
// the form kept), sees the signing secret once, watches a delivery fail and wait for its retry
// in the log (the host does not resolve), sends it again, turns the endpoint off and deletes it.
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
    name: 'webhooks: add an endpoint, see the secret once, follow deliveries and retries, replay, turn off and delete',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/settings`);
      await page.click('.cards a:has-text("Webhooks")');
      await page.waitForURL((u) => u.pathname === '/settings/webhooks');

      await page.fill('#webhook-url', 'http://127.0.0.1/hooks');
      await page.fill('#webhook-description', `CRM ${RUN}`);
      await page.uncheck('input[name=event_type][value="*"]');
      await page.check('input[name=event_type][value="conversation.created"]');
      await submitAndWait(page, '#create-webhook button[type=submit]');
      assert.match(await page.textContent('#webhook-error'), /loopback/);
      assert.equal(await page.inputValue('#webhook-description'), `CRM ${RUN}`, 'the form is kept');
      assert.ok(await page.isChecked('input[name=event_type][value="conversation.created"]'));

      const url = `https://hooks-${RUN}.example.invalid/in`;
      await page.fill('#webhook-url', url);
      await submitAndWait(page, '#create-webhook button[type=submit]');
      const secret = await page.inputValue('#webhook-secret');
      assert.match(secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
      await page.screenshot({ path: path.join(artifacts, 'settings-webhook-created.png'), fullPage: true });
      await page.goto(`${base}/settings/webhooks`);
      assert.equal(await page.locator('#webhook-secret').count(), 0, 'the secret is shown only once');
      assert.ok(!(await page.content()).includes(secret));

      const res = await page.request.post(`${base}/api/v1/conversations`, {
        data: { customer: { email: `hook-${RUN}@example.com` }, subject: 'Webhook me', body: 'Hello' },
        headers: { 'X-CSRF-Token': await page.getAttribute('meta[name=csrf-token]', 'content') },
      });
      assert.equal(res.status(), 201, await res.text());

      await page.click(`#endpoints a:has-text("${url}")`);
      await page.waitForURL((u) => /\/settings\/webhooks\/\d+$/.test(u.pathname));
      let row = '';
      for (let i = 0; i < 60 && !/pending/.test(row); i++) {
        await page.waitForTimeout(250);
        await page.reload();
        row = (await page.locator('#deliveries tbody tr').first().textContent({ timeout: 300 }).catch(() => '')) || '';
      }
      assert.match(row.replace(/\s+/g, ' '), /conversation\.created pending ?next try \d{4}-\d\d-\d\d \d\d:\d\d UTC \d+ #1: /);
      await page.click('#deliveries tbody tr:first-child summary');
      assert.match(await page.textContent('#deliveries tbody tr:first-child .attempts'), /#1: .*(resolve|connect|request failed)/);
      await page.screenshot({ path: path.join(artifacts, 'settings-webhook-log.png'), fullPage: true });

      await submitAndWait(page, '#deliveries tbody tr:first-child button:has-text("Send again")');
      await page.waitForSelector('[role=status]:has-text("sent again")');
      await submitAndWait(page, '#toggle-endpoint');
      assert.match(await page.textContent('main'), /off/);
      await submitAndWait(page, '#delete-endpoint');
      await page.waitForSelector('[role=status]:has-text("Endpoint deleted")');
      assert.equal(await page.locator(`#endpoints a:has-text("${url}")`).count(), 0);

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(`${base}/settings/webhooks`);
      await phone.screenshot({ path: path.join(artifacts, 'settings-webhooks-phone.png'), fullPage: true });
      const overflow = await phone.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
      assert.ok(overflow <= 1, `webhooks page is ${overflow}px wider than a phone`);
    },
  },
];
