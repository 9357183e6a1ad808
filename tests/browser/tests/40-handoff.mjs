// Handoffs: the owner passes a conversation to Maya with a context capsule, Maya sees the
// capsule before anything else, accepts, and the customer is told without repeating themselves.
// Follow-ups gate resolving. Also: capsule text never runs as script, and phones work.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const MAYA = 'maya@demo.test';
const XSS = '<img src=x onerror=window.__xss=1>';

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

/** A fresh conversation held by the signed-in user, with a customer ask and one reply. */
async function conversationOfMine(page, base, label) {
  const me = await api(page, 'GET', `${base}/api/v1/me`);
  const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const conv = await api(page, 'POST', `${base}/api/v1/conversations`, {
    customer: { email: `handoff-${stamp}@example.com`, name: 'Hanna Hoff' },
    subject: `${label} ${stamp}`,
    body: 'My router drops the connection every evening. I want a replacement.',
    kind: 'inbound',
    assignee_id: me.user.id,
  });
  await api(page, 'POST', `${base}/api/v1/conversations/${conv.id}/messages`, {
    body: 'Checked the firmware version: it is current.',
    kind: 'reply',
  });
  return conv;
}

/** Nothing may overflow sideways: compare with the viewport, as phone emulation widens the page. */
async function assertNoSidewaysScroll(page, what) {
  const overflow = await page.evaluate((w) => document.documentElement.scrollWidth - w, PHONE.width);
  assert.ok(overflow <= 1, `${what}: page is ${overflow}px wider than the screen`);
}

/** Whether `a` comes before `b` in the document. */
async function comesBefore(page, a, b) {
  return page.evaluate(([x, y]) => {
    const ex = document.querySelector(x);
    const ey = document.querySelector(y);
    return Boolean(ex && ey && ex.compareDocumentPosition(ey) & Node.DOCUMENT_POSITION_FOLLOWING);
  }, [a, b]);
}

/** A whole-page screenshot; scrolled to the end first, so the sticky composer sits in its place. */
async function shot(page, artifacts, name) {
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

async function submitAndWait(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

export default [
  {
    name: 'warm transfer with a capsule: prefilled, checked, offered, accepted; follow-ups gate resolving',
    run: async ({ browser, base, artifacts, login }) => {
      const owner = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      const dialogs = [];
      owner.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
      await login(owner, base);
      const conv = await conversationOfMine(owner, base, 'Router keeps dropping');

      // The transfer form opens prefilled from the conversation.
      await owner.goto(`${base}/conversations/${conv.id}`);
      await owner.click('#transfer > summary');
      await owner.waitForSelector('#transfer-form', { state: 'visible' });
      assert.match(await owner.inputValue('#tr-wants'), /router drops the connection every evening/);
      assert.match(await owner.inputValue('#tr-tried'), /Checked the firmware version/);
      assert.equal(await owner.inputValue('#tr-next'), '');
      assert.ok(await owner.isChecked('input[name=mode][value=warm]'), 'warm is the default');
      assert.match(await owner.inputValue('#tr-message'), /^A colleague is taking over and has the full context/);

      // Picking Maya names her in the message to the customer.
      await owner.selectOption('#tr-agent', { label: 'Maya Lopez' });
      assert.match(await owner.inputValue('#tr-message'), /^Maya is taking over and has the full context, so you won't need to repeat anything\.$/);
      const tried = `${await owner.inputValue('#tr-tried')}\n- Asked for a photo of the lights ${XSS}`;
      await owner.fill('#tr-tried', tried);
      await owner.fill('#tr-promise-1', 'Call back with the replacement date');
      await owner.fill('#tr-due-1', '2030-01-15T10:00');
      await owner.selectOption('#tr-fallback', 'queue');
      await owner.locator('#transfer').screenshot({ path: path.join(artifacts, 'handoff-transfer-form.png') });

      // Without a next step the transfer is refused beside the field, and nothing typed is lost.
      await submitAndWait(owner, '#send-transfer');
      await owner.waitForSelector('#transfer-error[role=alert]');
      assert.match(await owner.textContent('#tr-next-error'), /Next step must not be empty/);
      assert.equal(await owner.getAttribute('#tr-next', 'aria-invalid'), 'true');
      assert.ok(await owner.isVisible('#transfer-form'), 'the form stays open');
      assert.equal(await owner.inputValue('#tr-tried'), tried);
      assert.equal(await owner.inputValue('#tr-promise-1'), 'Call back with the replacement date');
      assert.equal(await owner.inputValue('#tr-due-1'), '2030-01-15T10:00');
      assert.equal(await owner.inputValue('#tr-fallback'), 'queue');
      assert.equal(await owner.$eval('#tr-agent', (s) => s.selectedOptions[0].textContent), 'Maya Lopez');
      assert.match(await owner.inputValue('#tr-message'), /^Maya is taking over/);
      assert.equal(await owner.evaluate(() => document.activeElement?.id), 'tr-next', 'the cursor waits in the field to fix');
      await owner.locator('#transfer').screenshot({ path: path.join(artifacts, 'handoff-transfer-error.png') });

      const nextStep = 'Ship a replacement router and confirm the delivery date';
      await owner.fill('#tr-next', nextStep);
      await submitAndWait(owner, '#send-transfer');
      await owner.waitForSelector('.notice:has-text("Transfer offered")');
      await owner.waitForSelector('#handoff.offered:has-text("offers this conversation to Maya Lopez")');
      assert.ok(await owner.isVisible('#handoff button:has-text("Withdraw offer")'), 'the sender may withdraw');
      assert.equal(await owner.$('#accept-transfer'), null, 'only the receiver accepts');

      // Maya finds the offer in her inbox.
      const maya = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      maya.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
      await login(maya, base, { email: MAYA });
      const offer = await maya.waitForSelector(`.offers .offer:has-text("${conv.subject}")`);
      assert.match(await offer.textContent(), /from owner/);
      assert.ok(await offer.$('button:has-text("Accept")'), 'the offer can be accepted from the inbox');

      // The capsule comes first: above the timeline, with everything the owner wrote.
      await maya.click(`.offers a:has-text("${conv.subject}")`);
      await maya.waitForSelector('#handoff');
      assert.ok(await comesBefore(maya, '#handoff', '#timeline'), 'the handoff card is above the timeline');
      const card = (sel) => maya.textContent(`#handoff [data-field=${sel}]`);
      assert.match(await card('customer_wants'), /router drops the connection every evening/);
      assert.match(await card('next_step'), new RegExp(nextStep));
      assert.match(await card('promises'), /Call back with the replacement date · due 2030-01-15 10:00 UTC/);
      assert.match(await card('prior'), /None/);
      // Stored XSS: the capsule text is shown as text and never runs.
      assert.ok((await card('tried')).includes(XSS), 'the payload is shown literally');
      assert.equal(await maya.$$eval('#handoff img', (l) => l.length), 0);
      await maya.waitForTimeout(300);
      assert.equal(await maya.evaluate(() => window.__xss), undefined, 'no payload may run');

      // Accepting makes it hers, tells the customer, and puts the capsule on the timeline.
      await submitAndWait(maya, '#accept-transfer');
      await maya.waitForSelector('.notice:has-text("You took over this conversation")');
      assert.equal(await maya.$eval('#assignee', (s) => s.selectedOptions[0].textContent), 'Maya Lopez');
      await maya.waitForSelector('#handoff:not(.offered):has-text("From owner to Maya Lopez")');
      const entry = await maya.waitForSelector(`#timeline .handoff-entry:has-text("${nextStep}")`);
      assert.match(await entry.textContent(), /Handed over\s+from owner to Maya Lopez/);
      assert.ok((await entry.textContent()).includes(XSS));
      await maya.waitForSelector('#timeline .message.reply:has-text("Maya is taking over and has the full context")');
      assert.equal(await maya.$('#accept-transfer'), null, 'an accepted offer has no buttons');
      await shot(maya, artifacts, 'handoff-conversation.png');

      // An update owed blocks resolving, clearly, on the conversation itself.
      await maya.selectOption('#fu-kind', 'update_customer');
      await maya.fill('#fu-text', 'Tell the customer the delivery date');
      await submitAndWait(maya, '#follow-up-form button[type=submit]');
      await maya.waitForSelector('.notice:has-text("Follow-up added")');
      const followUp = await maya.waitForSelector('#follow-ups .follow-up:has-text("Tell the customer the delivery date")');
      assert.match(await followUp.textContent(), /Update owed/);
      // A promise already past its time shows as overdue.
      await maya.selectOption('#fu-kind', 'promise');
      await maya.fill('#fu-text', 'Send the return label');
      await maya.fill('#fu-due', '2020-01-01T09:00');
      await submitAndWait(maya, '#follow-up-form button[type=submit]');
      const late = await maya.waitForSelector('#follow-ups .follow-up.overdue:has-text("Send the return label")');
      assert.match(await late.textContent(), /Promise\s+Overdue[\s\S]*Due 2020-01-01 09:00 UTC/);

      await maya.selectOption('#status', 'resolved');
      await submitAndWait(maya, '#update-form button[type=submit]');
      const refusal = await maya.waitForSelector('#update-error[role=alert]');
      assert.match(await refusal.textContent(), /The customer is owed an update: reply or mark the follow-up done first\./);
      assert.notEqual(await maya.textContent('#status-badge'), 'resolved');
      assert.ok(await maya.isVisible('#timeline'), 'the refusal is shown on the conversation, not an error page');

      await submitAndWait(maya, '#follow-ups .follow-up:has-text("Tell the customer") button:has-text("Done")');
      await maya.waitForSelector('.notice:has-text("Follow-up marked done")');
      await maya.waitForSelector('#follow-ups .follow-up.done:has-text("Tell the customer the delivery date")');
      await maya.selectOption('#status', 'resolved');
      await submitAndWait(maya, '#update-form button[type=submit]');
      await maya.waitForSelector('#status-badge:has-text("resolved")');
      assert.equal(await maya.$('#update-error'), null);

      // The offer is gone from her inbox, which points to the overdue promise instead.
      await maya.goto(`${base}/inbox`);
      assert.equal(await maya.$(`.offers .offer:has-text("${conv.subject}")`), null);
      await maya.waitForSelector('.overdue-note:has-text("1 overdue")');
      await submitAndWait(maya, '.overdue-note a:has-text("My follow-ups")');
      const mine = await maya.waitForSelector('.follow-up-rows .follow-up:has-text("Send the return label")');
      assert.ok((await mine.textContent()).includes(conv.subject), 'the list names the conversation');
      await submitAndWait(maya, '.follow-up-rows .follow-up:has-text("Send the return label") button:has-text("Done")');
      await maya.waitForSelector('.notice:has-text("Follow-up marked done")');
      assert.equal(await maya.$('.follow-up-rows .follow-up:has-text("Send the return label")'), null);
      await maya.goto(`${base}/inbox`);
      assert.equal(await maya.$('.overdue-note'), null, 'nothing overdue any more');

      // The owner sees the handoff on the timeline too.
      await owner.goto(`${base}/conversations/${conv.id}`);
      await owner.waitForSelector('#timeline .handoff-entry');
      assert.equal(await owner.evaluate(() => window.__xss), undefined);
      assert.equal(await maya.evaluate(() => window.__xss), undefined);
      assert.deepEqual(dialogs, [], 'no alert may open');
    },
  },
  {
    name: 'phone-sized screen: transfer form, handoff card and accepting',
    run: async ({ browser, base, artifacts, login }) => {
      const phone = { viewport: PHONE, isMobile: true, hasTouch: true };
      const owner = await (await browser.newContext(phone)).newPage();
      await login(owner, base);
      const conv = await conversationOfMine(owner, base, 'Phone handoff');

      await owner.goto(`${base}/conversations/${conv.id}`);
      await owner.click('#transfer > summary');
      await owner.waitForSelector('#transfer-form', { state: 'visible' });
      await assertNoSidewaysScroll(owner, 'transfer form');
      await owner.selectOption('#tr-agent', { label: 'Maya Lopez' });
      await owner.fill('#tr-next', 'Confirm the replacement address with the customer');
      await owner.fill('#tr-promise-1', 'Reply before noon');
      await shot(owner, artifacts, 'handoff-transfer-form-phone.png');
      await submitAndWait(owner, '#send-transfer');
      await owner.waitForSelector('#handoff.offered');

      const maya = await (await browser.newContext(phone)).newPage();
      await login(maya, base, { email: MAYA });
      await maya.waitForSelector(`.offers .offer:has-text("${conv.subject}")`);
      await assertNoSidewaysScroll(maya, 'inbox with an offer');
      await maya.click(`.offers a:has-text("${conv.subject}")`);
      await maya.waitForSelector('#handoff.offered');
      assert.ok(await comesBefore(maya, '#handoff', '#timeline'));
      await maya.waitForSelector('#handoff [data-field=next_step]:has-text("Confirm the replacement address")');
      await assertNoSidewaysScroll(maya, 'handoff card');
      // The card and its Accept button are on the first screen.
      const box = await (await maya.$('#accept-transfer')).boundingBox();
      assert.ok(box && box.y + box.height <= PHONE.height, `Accept is below the first screen (y=${box?.y})`);
      await maya.screenshot({ path: path.join(artifacts, 'handoff-card-phone.png') });

      await submitAndWait(maya, '#accept-transfer');
      await maya.waitForSelector('.notice:has-text("You took over this conversation")');
      await maya.waitForSelector('#timeline .handoff-entry:has-text("Confirm the replacement address")');
      await assertNoSidewaysScroll(maya, 'accepted conversation');
      await shot(maya, artifacts, 'handoff-accepted-phone.png');
    },
  },
];
