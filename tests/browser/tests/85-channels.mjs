// Phone channels and mailboxes in the admin's and agent's screens: connecting the demo's SMS and
// phone inboxes to a provider shows the webhook addresses; a signed SMS and a call reported by
// the provider appear on the timeline (nothing in the text runs); a mailbox on a loopback
// address is refused with a clear reason.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const RUN = Date.now();
const TOKEN = `browser-token-${RUN}`;

/** Posts a provider webhook signed as the provider signs it. */
async function signedHook(url, fields, token = TOKEN) {
  const data = Object.keys(fields).sort().map((k) => k + fields[k]).join('');
  const signature = crypto.createHmac('sha1', token).update(url + data).digest('base64');
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Connects a phone inbox to the provider through its settings page; returns the webhook URLs. */
async function connect(page, base, inboxName) {
  await page.goto(`${base}/settings/phone`);
  await page.click(`#phone-inboxes a:has-text("${inboxName}")`);
  await page.fill('#pv-sid', 'ACbrowser');
  await page.fill('#pv-token', TOKEN);
  await Promise.all([page.waitForNavigation(), page.click('#provider-form button[type=submit]')]);
  await page.locator('#provider-hooks').waitFor();
  return page.locator('#provider-hooks input').evaluateAll((inputs) => inputs.map((i) => i.value));
}

export default [
  {
    name: 'channels: a signed SMS and a phone call land on the timeline; a bad mailbox says why',
    run: async ({ browser, base, artifacts, login }) => {
      const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(page, base);

      const smsHooks = await connect(page, base, 'SMS');
      const messagesUrl = smsHooks.find((u) => u.endsWith('/messages'));
      assert.ok(messagesUrl && smsHooks.some((u) => u.endsWith('/status')), `${smsHooks}`);
      await page.screenshot({ path: path.join(artifacts, 'settings-phone-inbox.png'), fullPage: true });

      const forged = await signedHook(messagesUrl, { MessageSid: `SMf${RUN}`, From: '+14155557001', To: '+14155550000', Body: 'x' }, 'wrong');
      assert.equal(forged.status, 403);
      const text = `Parcel ${RUN} is late <img src=x onerror="window.__pwned = 1">`;
      const sms = await signedHook(messagesUrl, { MessageSid: `SM${RUN}`, From: '+14155557001', To: '+14155550000', Body: text });
      assert.equal(sms.status, 200, await sms.text());

      await page.goto(`${base}/search?q=${encodeURIComponent(`Parcel ${RUN}`)}`);
      await page.click('a:has-text("SMS from +14155557001")');
      await page.waitForURL(/\/conversations\/\d+/);
      const timeline = page.locator('#timeline');
      await timeline.locator('.mail-line:has-text("SMS from +14155557001")').waitFor();
      assert.match(await timeline.textContent(), new RegExp(`Parcel ${RUN} is late <img`));
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing from the text ran');
      await page.fill('#body', 'Your parcel is on its way.');
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#composer button[name=send]')]);
      const delivery = timeline.locator('.message.reply .delivery').last();
      await delivery.waitFor();
      assert.match(await delivery.getAttribute('data-delivery'), /queued|failed|sent/);
      await page.screenshot({ path: path.join(artifacts, 'conversation-sms.png'), fullPage: true });

      const voiceHooks = await connect(page, base, 'Phone');
      const voiceUrl = voiceHooks.find((u) => u.endsWith('/voice'));
      const call = { CallSid: `CA${RUN}`, From: '+14155557002', To: '+14155550002', Direction: 'inbound' };
      for (const step of [
        { CallStatus: 'ringing' },
        { CallStatus: 'in-progress' },
        { CallStatus: 'completed', CallDuration: '192' },
        { RecordingUrl: 'https://recordings.example.test/RE1', RecordingDuration: '180', RecordingStatus: 'completed' },
      ]) {
        const r = await signedHook(voiceUrl, { ...call, ...step });
        assert.equal(r.status, 200, await r.text());
      }
      await page.goto(`${base}/search?q=${encodeURIComponent('Phone call from +14155557002')}`);
      await page.click('a:has-text("Phone call from +14155557002")');
      await page.waitForURL(/\/conversations\/\d+/);
      await timeline.locator('.event:has-text("Call ended after 3:12")').waitFor();
      assert.match(await timeline.textContent(), /Incoming call from \+14155557002/);
      const listen = timeline.locator('.event:has-text("Call recording (3:00)") a');
      assert.equal(await listen.getAttribute('href'), 'https://recordings.example.test/RE1');
      assert.equal(await listen.getAttribute('rel'), 'noopener noreferrer');

      const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(phone, base);
      await phone.goto(page.url());
      await phone.locator('.event:has-text("Call ended")').waitFor();
      await phone.screenshot({ path: path.join(artifacts, 'conversation-call-phone.png'), fullPage: true });

      // A mailbox on this machine is refused by default, and the screen says why.
      await page.goto(`${base}/settings/mailboxes`);
      await page.click('#mailboxes a:has-text("Support email")');
      await page.fill('#mb-host', '127.0.0.1');
      await page.selectOption('#mb-security', 'plain');
      await page.fill('#mb-port', '1');
      await page.fill('#mb-username', 'support');
      await page.fill('#mb-password', 'secret');
      await Promise.all([page.waitForNavigation(), page.click('#mailbox-form button[type=submit]')]);
      await page.locator('#mailbox-state').waitFor();
      assert.equal(await page.locator('#mb-password').inputValue(), '', 'the password is never shown');
      for (let i = 0; i < 40; i++) {
        if (await page.locator('.mailbox-error').count()) break;
        await page.waitForTimeout(500);
        await page.reload();
      }
      assert.match(await page.locator('.mailbox-error').textContent(), /loopback/);
      await page.screenshot({ path: path.join(artifacts, 'settings-mailbox.png'), fullPage: true });
      await page.goto(`${base}/settings/mailboxes`);
      assert.match(await page.locator('#mailboxes').textContent(), /support@127\.0\.0\.1\/INBOX/);
    },
  },
];
