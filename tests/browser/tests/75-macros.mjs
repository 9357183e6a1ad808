// Macros: the owner writes a shared macro in settings (a bad placeholder is refused first,
// with the form kept), then applies it from a conversation: the reply greets the customer by
// first name, and the conversation is tagged and set pending in the same step.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const RUN = Date.now();

async function submitAndWait(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

export default [
  {
    name: 'macros: written in settings, applied from a conversation with placeholders and changes',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/settings`);
      await page.click('.cards a:has-text("Macros")');
      await page.waitForURL((u) => u.pathname === '/settings/macros');

      const name = `Waiting on you ${RUN}`;
      await page.fill('#macro-name', name);
      await page.fill('#macro-body', 'Hi {{ customer.nickname }}');
      await page.selectOption('#macro-status', 'pending');
      await page.fill('#macro-tags', `asked-${RUN}`);
      await submitAndWait(page, '#create-macro button[type=submit]');
      assert.match(await page.textContent('#macro-error'), /unknown placeholder/);
      assert.equal(await page.inputValue('#macro-name'), name, 'the form is kept');
      assert.equal(await page.inputValue('#macro-status'), 'pending');
      await page.fill('#macro-body', 'Hi {{ customer.first_name | default: "there" }}, could you send a photo of the label? {{ agent.first_name }}');
      await submitAndWait(page, '#create-macro button[type=submit]');
      await page.waitForSelector('[role=status]:has-text("Macro saved")');
      await page.screenshot({ path: path.join(artifacts, 'settings-macros.png'), fullPage: true });

      const res = await page.request.post(`${base}/api/v1/conversations`, {
        data: { customer: { email: `macro-${RUN}@example.com`, name: 'Grace Hopper' }, subject: 'Damaged box', body: 'The box arrived crushed.' },
        headers: { 'X-CSRF-Token': await page.getAttribute('meta[name=csrf-token]', 'content') },
      });
      assert.equal(res.status(), 201, await res.text());
      const conv = await res.json();
      await page.goto(`${base}/conversations/${conv.id}`);
      await page.selectOption('#macro-id', { label: name });
      await submitAndWait(page, '#macro-form button[type=submit]');
      await page.waitForSelector('[role=status]:has-text("Macro applied")');
      assert.match(await page.textContent('#timeline'), /Hi Grace, could you send a photo of the label\?/);
      const c = await (await page.request.get(`${base}/api/v1/conversations/${conv.id}`)).json();
      assert.equal(c.status, 'pending');
      assert.ok(c.tags.includes(`asked-${RUN}`), JSON.stringify(c));
      await page.screenshot({ path: path.join(artifacts, 'conversation-macro.png'), fullPage: true });
    },
  },
];
