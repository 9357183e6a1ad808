// The website chat, end to end in real Chromium: the admin copies the snippet, a shop page on
// another origin embeds it, a visitor on a desktop and one on a phone write; the agent sees each
// message arrive live with the visitor typing, replies, and the visitor sees the reply live
// with the agent's "Seen". Nothing the visitor types runs anywhere.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const RUN = Date.now();

/** A shop website on its own origin, with the pasted snippet. */
async function startShop(snippet) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><h1>Sofa shop</h1><p>Best sofas in town.</p>${snippet}</body></html>`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

async function goOnline(page) {
  await page.click('#presence-menu summary');
  await page.waitForSelector('#presence-form', { state: 'visible' });
  await Promise.all([page.waitForNavigation(), page.click('#presence-form button[name=presence][value=online]')]);
}

/** Opens the shop as a visitor and the chat in it; returns the chat frame. */
async function visit(browser, shopUrl, viewport) {
  const context = await browser.newContext({ viewport, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  const page = await context.newPage();
  await page.goto(shopUrl);
  await page.click('#citius-chat-launcher');
  const frame = page.frameLocator('#citius-chat-frame');
  await frame.locator('#text').waitFor();
  return { page, frame };
}

async function chatFromVisitor({ browser, base, artifacts, agent, shopUrl, viewport, label }) {
  const { page, frame } = await visit(browser, shopUrl, viewport);
  const box = await page.locator('#citius-chat-frame').boundingBox();
  if (viewport.width < 500) {
    assert.ok(box.width >= viewport.width - 1 && box.height >= viewport.height - 1, `full screen on a phone: ${JSON.stringify(box)}`);
  } else {
    assert.ok(box.width < 400, `a panel on a desktop: ${JSON.stringify(box)}`);
  }
  await frame.locator("#greeting", { hasText: "How can we help" }).waitFor();

  const words = `Is the ${label} sofa ${RUN} in stock? <img src=x onerror="parent.__pwned=1">`;
  await frame.locator('#text').fill(words);
  await frame.locator('#send').click();
  await frame.locator(`.messages li.visitor:has-text("${label} sofa ${RUN}")`).waitFor();

  // The agent's inbox shows the new chat without a reload; the agent opens it.
  const row = agent.locator(`a:has-text("Is the ${label} sofa ${RUN}")`);
  await row.waitFor({ timeout: 15_000 });
  await Promise.all([agent.waitForURL(/\/conversations\/\d+/), row.click()]);
  const timeline = agent.locator('#timeline');
  await timeline.locator(`.message.inbound:has-text("${label} sofa ${RUN}")`).waitFor();
  assert.equal(await agent.evaluate(() => window.__pwned), undefined);

  // The visitor types: the agent sees it; the agent has the chat open: the visitor sees "Seen".
  await frame.locator('#text').pressSequentially('And in grey', { delay: 20 });
  await agent.locator('#activity:has-text("The customer is typing")').waitFor({ timeout: 10_000 });
  await frame.locator('.messages .seen').waitFor({ timeout: 10_000 });

  // The visitor's next message arrives live; the agent's reply reaches the visitor live.
  await frame.locator('#send').click();
  await timeline.locator('.message.inbound:has-text("And in grey")').waitFor({ timeout: 10_000 });
  await agent.fill('#body', `Yes! Two ${label} sofas left.`);
  await Promise.all([agent.waitForNavigation({ waitUntil: 'load' }), agent.click('#composer button[name=send]')]);
  await frame.locator(`.messages li.agent:has-text("Two ${label} sofas left")`).waitFor({ timeout: 10_000 });
  // The visitor read it: the agent's reply shows "Seen".
  await agent.locator('.message.reply .seen-mark').last().waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing the visitor typed ran in the shop page');

  // The visitor leaves their email: the customer is identified.
  await frame.locator('#id-email').fill(`${label}-${RUN}@example.com`);
  await frame.locator('#identify button').click();
  await frame.locator('#identify').waitFor({ state: 'hidden' });
  await agent.reload();
  await agent.locator(`.customer-panel, #customer, body`).first().waitFor();
  await agent.waitForFunction((email) => document.body.textContent.includes(email), `${label}-${RUN}@example.com`, { timeout: 10_000 });

  await page.screenshot({ path: path.join(artifacts, `chat-widget-${label}.png`) });
  await agent.screenshot({ path: path.join(artifacts, `chat-agent-${label}.png`), fullPage: true });
  await page.context().close();
}

export default [
  {
    name: 'chat widget: a visitor on a desktop and on a phone chats live with an agent',
    run: async ({ browser, base, artifacts, login }) => {
      const agent = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(agent, base);
      await goOnline(agent);

      await agent.goto(`${base}/settings/chat`);
      await agent.click('#chat-inboxes a:has-text("Website chat")');
      const snippet = await agent.locator('#widget-snippet').inputValue();
      assert.match(snippet, /^<script src="http:\/\/127\.0\.0\.1:\d+\/widget\.js" data-citius-key="wk_[0-9a-f]+" async><\/script>$/);
      await agent.screenshot({ path: path.join(artifacts, 'settings-chat-widget.png'), fullPage: true });

      const shop = await startShop(snippet);
      try {
        for (const [viewport, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
          await agent.goto(`${base}/inbox?view=all`);
          await chatFromVisitor({ browser, base, artifacts, agent, shopUrl: shop.url, viewport, label });
        }
        // A third visitor says the desktop visitor's email is theirs: agents get a merge
        // suggestion, never an automatic merge; the admin merges, then splits an identity off.
        const { page: third, frame } = await visit(browser, shop.url, DESKTOP);
        await frame.locator('#text').fill(`Me again ${RUN}`);
        await frame.locator('#send').click();
        await frame.locator('#id-email').fill(`desktop-${RUN}@example.com`);
        await frame.locator('#identify button').click();
        await frame.locator('#identify').waitFor({ state: 'hidden' });
        await third.context().close();

        await agent.goto(`${base}/customers`);
        const suggestion = agent.locator('#merge-suggestions li', { hasText: `desktop-${RUN}@example.com` });
        await suggestion.waitFor();
        await suggestion.locator('a').first().click();
        await agent.waitForURL(/\/customers\/\d+/);
        const duplicates = agent.locator('#duplicates');
        await duplicates.waitFor();
        await Promise.all([agent.waitForNavigation(), duplicates.locator('button:has-text("Merge into this customer")').first().click()]);
        await agent.locator('.notice:has-text("Merged")').waitFor();
        assert.equal(await agent.locator('#duplicates').count(), 0, 'no suggestion once merged');
        await agent.screenshot({ path: path.join(artifacts, 'customer-merged.png'), fullPage: true });
        const identities = agent.locator('#identities li');
        const before = await identities.count();
        assert.ok(before >= 3, `the merged customer holds both visitors and the email (${before})`);
        await Promise.all([agent.waitForNavigation(), identities.filter({ hasText: 'chat visitor' }).last().locator('button').click()]);
        await agent.locator('.notice:has-text("Split off")').waitFor();
        assert.match(await agent.locator('#identities').textContent(), /chat visitor/);
      } finally {
        shop.server.close();
      }
    },
  },
];
