// The agent's daily loop: open a conversation, reply, leave a note, change it, and see others'
// work arrive live. Also: customer-supplied text never runs as script, and phones work.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** The session's CSRF token, published in every page's <meta>. */
async function csrf(page) {
  return page.getAttribute('meta[name=csrf-token]', 'content');
}

/** Calls the JSON API with the page's session cookie. */
async function api(page, method, url, data) {
  const token = await csrf(page);
  const res = await page.request.fetch(url, {
    method,
    data,
    headers: { 'X-CSRF-Token': token, 'Content-Type': 'application/json' },
  });
  const body = await res.json().catch(() => null);
  assert.ok(res.ok(), `${method} ${url} -> ${res.status()} ${JSON.stringify(body)}`);
  return body;
}

async function openFirstOpenConversation(page, base) {
  await page.goto(`${base}/inbox?view=all`);
  await page.click('a.conversation-row');
  await page.waitForSelector('#timeline');
  return new URL(page.url()).pathname;
}

export default [
  {
    name: 'reply, note and status change from the conversation screen',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await openFirstOpenConversation(page, base);

      const reply = `Thanks for waiting, we are on it (${Date.now()})`;
      await page.fill('#body', reply);
      await page.click('button[name=send]');
      await page.waitForSelector(`.message.reply:has-text("${reply}")`, { timeout: 10_000 });

      const note = `Internal: check the billing log (${Date.now()})`;
      await page.fill('#body', note);
      await page.check('input[name=kind][value=note]');
      // Files go along from the composer, and come back as downloads.
      await page.setInputFiles('#files', [
        { name: 'billing-log.txt', mimeType: 'text/plain', buffer: Buffer.from('charge 1\ncharge 2\n') },
        { name: 'evil.html', mimeType: 'text/html', buffer: Buffer.from('<script>window.__pwned = 1</script>') },
      ]);
      await page.click('button[name=send]');
      const noteEl = await page.waitForSelector(`.message.note:has-text("${note}")`, { timeout: 10_000 });
      assert.ok(noteEl, 'the note is shown as an internal note');
      const files = page.locator(`.message.note:has-text("${note}") .files a`);
      assert.deepEqual(await files.allTextContents(), ['billing-log.txt', 'evil.html']);
      const download = await page.request.get(new URL(await files.nth(1).getAttribute('href'), base).href);
      assert.equal(download.status(), 200);
      assert.match(download.headers()['content-disposition'], /^attachment/);
      assert.notEqual(download.headers()['content-type'], 'text/html', 'customer-supplied HTML is never served as a page');

      await page.selectOption('#status', 'pending');
      await page.fill('#add_tag', 'followup');
      await page.click('#update-form button[type=submit]');
      await page.waitForSelector('#status-badge:has-text("pending")', { timeout: 10_000 });
      await page.waitForSelector('.tag:has-text("followup")');
      await page.waitForSelector('.event:has-text("changed the status from open to pending")');
      await page.screenshot({ path: path.join(artifacts, 'conversation.png'), fullPage: true });
    },
  },
  {
    name: 'a message from another agent appears live without reload',
    run: async ({ browser, base, login }) => {
      const watcher = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(watcher, base);
      const convPath = await openFirstOpenConversation(watcher, base);
      // Mark the page: a reload would lose this flag.
      await watcher.evaluate(() => { window.__noReload = true; });

      const writer = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(writer, base, { email: 'maya@demo.test' });
      const text = `Live hello ${Date.now()}`;
      await api(writer, 'POST', `${base}/api/v1${convPath}/messages`, { body: text, kind: 'reply' });

      await watcher.waitForSelector(`.message:has-text("${text}")`, { timeout: 10_000 });
      assert.equal(await watcher.evaluate(() => window.__noReload), true, 'the page must update in place');

      // The inbox list updates live too.
      await watcher.goto(`${base}/inbox?view=all`);
      await watcher.evaluate(() => { window.__noReload = true; });
      const subject = `Live new conversation ${Date.now()}`;
      await api(writer, 'POST', `${base}/api/v1/conversations`, {
        customer: { email: `live${Date.now()}@example.com`, name: 'Live Customer' },
        subject,
        body: 'Hello from the test',
      });
      await watcher.waitForSelector(`a.conversation-row:has-text("${subject}")`, { timeout: 10_000 });
      assert.equal(await watcher.evaluate(() => window.__noReload), true);
    },
  },
  {
    name: 'stored XSS in names, subjects and messages never executes',
    run: async ({ browser, base, login }) => {
      const context = await browser.newContext({ viewport: DESKTOP });
      const page = await context.newPage();
      const dialogs = [];
      page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
      await login(page, base);

      const payload = `<img src=x onerror="window.__xss=1;alert(1)">`;
      const conv = await api(page, 'POST', `${base}/api/v1/conversations`, {
        customer: { email: `xss${Date.now()}@example.com`, name: `Eve ${payload}` },
        subject: `<script>window.__xss=2</script> Subject ${payload}`,
        html: `<p>Hello</p><script>window.__xss=3</script><img src=x onerror="window.__xss=4"><a href="javascript:window.__xss=5">click</a>`,
        tags: ['xss-test'],
      });
      await api(page, 'POST', `${base}/api/v1/conversations/${conv.id}/messages`, {
        body: `Plain text ${payload} <script>window.__xss=6</script>`,
        kind: 'note',
      });

      await page.goto(`${base}/inbox?view=all`);
      await page.waitForSelector(`a.conversation-row[href="/conversations/${conv.id}"]`);
      await page.goto(`${base}/conversations/${conv.id}`);
      await page.waitForSelector('#timeline .message');
      await page.click('a:has-text("click")').catch(() => {});
      await page.goto(`${base}/search?q=Eve`);
      await page.goto(`${base}/customers/${conv.customer_id}`);
      await page.waitForTimeout(500);

      assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload may run');
      assert.deepEqual(dialogs, [], 'no alert may open');
      // The text is shown, not interpreted.
      await page.goto(`${base}/conversations/${conv.id}`);
      const subject = await page.textContent('#subject');
      assert.ok(subject.includes('<script>'), `subject shown literally, got: ${subject}`);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
    },
  },
  {
    name: 'phone-sized screen: inbox, conversation and reply',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true })).newPage();
      await login(page, base);
      await page.goto(`${base}/inbox?view=all`);
      await page.waitForSelector('a.conversation-row');
      await page.screenshot({ path: path.join(artifacts, 'inbox-phone.png'), fullPage: true });
      // Nothing may overflow sideways on a phone.
      // Compare with the viewport itself: phone emulation widens innerWidth to fit a too-wide page.
      const overflow = await page.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
      assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);

      await page.click('a.conversation-row');
      await page.waitForSelector('#body');
      const text = `Reply from a phone ${Date.now()}`;
      await page.fill('#body', text);
      await page.click('button[name=send]');
      await page.waitForSelector(`.message.reply:has-text("${text}")`, { timeout: 10_000 });
      await page.screenshot({ path: path.join(artifacts, 'conversation-phone.png'), fullPage: true });
    },
  },
  {
    name: 'search finds a conversation by a word in a message',
    run: async ({ browser, base, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.fill('#q', 'duplicate charge');
      await page.press('#q', 'Enter');
      await page.waitForSelector('a.conversation-row:has-text("Charged twice")', { timeout: 10_000 });
    },
  },
];
