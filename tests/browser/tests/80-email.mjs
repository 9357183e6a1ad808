// Email in the agent's screen: a customer's mail delivered over SMTP opens a conversation whose
// quoted text is folded away (the original stays downloadable), a script in the mail never
// runs, and the agent's reply shows its delivery state (no relay is configured in the demo).
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const RUN = Date.now();

/** Speaks SMTP to the server: one message, each reply checked. */
async function sendMail(port, from, to, raw) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  const replies = [];
  let wake = null;
  socket.on('data', (d) => {
    buffer += d;
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (/^\d{3} /.test(line)) {
        replies.push(line);
        wake?.();
      }
    }
  });
  const next = async (expect) => {
    while (replies.length === 0) await new Promise((r) => { wake = r; });
    const line = replies.shift();
    assert.ok(line.startsWith(expect), `expected ${expect}, got ${line}`);
    return line;
  };
  await next('220');
  for (const [cmd, code] of [['EHLO browser.test', '250'], [`MAIL FROM:<${from}>`, '250'], [`RCPT TO:<${to}>`, '250'], ['DATA', '354']]) {
    socket.write(`${cmd}\r\n`);
    await next(code);
  }
  socket.write(raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n');
  const stored = await next('250');
  socket.write('QUIT\r\n');
  await next('221');
  socket.end();
  return stored;
}

export default [
  {
    name: 'email: a delivered mail opens a conversation with quotes folded, a reply shows its delivery',
    run: async ({ browser, base, artifacts, login, smtpPort }) => {
      const subject = `Invoice question ${RUN} <script>window.__pwned = 1</script>`;
      const raw = [
        'From: Ada Byron <ada-' + RUN + '@example.com>',
        'To: support@demo.test',
        `Subject: ${subject}`,
        `Message-ID: <invoice-${RUN}@example.com>`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Why was I charged twice this month?',
        '',
        'On Mon, Support <support@demo.test> wrote:',
        '> Your invoice is attached.',
        '> <img src=x onerror="window.__pwned = 2">',
      ].join('\n');
      await sendMail(smtpPort, `ada-${RUN}@example.com`, 'support@demo.test', raw);

      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);
      await page.goto(`${base}/search?q=${encodeURIComponent('charged twice')}`);
      await page.click(`a:has-text("Invoice question ${RUN}")`);
      await page.waitForURL(/\/conversations\/\d+/);
      const timeline = page.locator('#timeline');
      await timeline.locator('.mail-line:has-text("Email from ada-")').waitFor();
      assert.match(await timeline.textContent(), /Why was I charged twice this month\?/);
      const quoted = timeline.locator('details.quoted');
      assert.equal(await quoted.getAttribute('open'), null, 'the quote starts folded');
      assert.equal(await quoted.locator('.body').isVisible(), false);
      await quoted.locator('summary').click();
      assert.match(await quoted.textContent(), /Your invoice is attached/);
      const original = await page.request.get(new URL(await timeline.locator('a:has-text("Original")').first().getAttribute('href'), base).href);
      assert.equal(original.status(), 200);
      assert.equal(original.headers()['content-type'], 'message/rfc822');
      assert.match(await original.text(), /charged twice/);
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing from the mail ran');
      await page.screenshot({ path: path.join(artifacts, 'conversation-email.png'), fullPage: true });

      await page.fill('#body', 'We refunded the second charge.');
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#composer button[name=send]')]);
      const delivery = timeline.locator('.message.reply .delivery').last();
      await delivery.waitFor();
      assert.equal(await delivery.getAttribute('data-delivery'), 'queued');
      // The worker tries at once and reports why the mail is still waiting.
      await page.waitForFunction(async () => {
        const r = await fetch(location.pathname + '/timeline');
        return /no outgoing mail server is configured/.test(await r.text());
      }, null, { timeout: 15_000, polling: 300 });

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(page.url());
      await phone.locator('.mail-line').first().waitFor();
      await phone.screenshot({ path: path.join(artifacts, 'conversation-email-phone.png'), fullPage: true });
      assert.equal(await phone.evaluate(() => window.__pwned), undefined);

      // The admin's record of received mail links to the conversation it opened.
      await page.goto(`${base}/settings/mail`);
      const row = page.locator(`table.mail tr:has-text("ada-${RUN}@example.com")`);
      await row.locator('a:has-text("New conversation")').waitFor();
      await page.screenshot({ path: path.join(artifacts, 'settings-received-mail.png'), fullPage: true });
      const csv = await page.request.get(`${base}/settings/mail?format=csv`);
      assert.equal(csv.status(), 200);
      assert.match(await csv.text(), new RegExp(`ada-${RUN}@example.com,created`));
    },
  },
];
