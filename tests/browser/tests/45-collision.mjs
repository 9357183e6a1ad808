// Collision detection: two agents in one conversation see each other, and see when the other
// starts typing a reply, on a desktop and on a phone.
import assert from 'node:assert/strict';
import path from 'node:path';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

export default [
  {
    name: 'two agents in one conversation see who is viewing and who is typing',
    run: async ({ browser, base, artifacts, login }) => {
      const owner = await (await browser.newContext({ viewport: DESKTOP })).newPage();
      await login(owner, base);
      await owner.goto(`${base}/inbox?view=all`);
      await owner.click('a.conversation-row');
      await owner.waitForSelector('#timeline');
      const url = owner.url();

      const maya = await (await browser.newContext({ viewport: PHONE })).newPage();
      await login(maya, base, { email: 'maya@demo.test' });
      await maya.goto(url);
      await maya.waitForSelector('#timeline');

      // Maya's page reports her as viewing at once; the owner's next round shows her.
      await owner.waitForSelector('#activity:has-text("Maya Lopez is viewing")', { timeout: 15_000 });
      await maya.waitForSelector('#activity:has-text("is viewing")', { timeout: 15_000 });

      await maya.fill('#body', 'Let me check that for you');
      await owner.waitForSelector('#activity:has-text("Maya Lopez is typing a reply")', { timeout: 15_000 });
      await owner.screenshot({ path: path.join(artifacts, 'collision.png') });
      await maya.screenshot({ path: path.join(artifacts, 'collision-phone.png') });

      // Maya leaves: the owner's indicator clears on its next round.
      await maya.goto(`${base}/inbox`);
      await owner.waitForFunction(() => document.getElementById('activity').hidden, null, { timeout: 15_000 });
      const text = await owner.textContent('#activity');
      assert.equal(text.trim(), '', 'nobody else is shown once Maya left');
    },
  },
];
