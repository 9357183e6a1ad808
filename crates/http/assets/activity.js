// Collision detection: tells the server this agent is viewing (or typing in) the conversation,
// and shows who else is, so two people do not answer the same customer at once.
(function () {
  "use strict";
  const el = document.getElementById("activity");
  if (!el) return;
  // Words from the page's catalogue, read by app.js (which runs first: both are deferred and
  // app.js comes earlier in the page).
  var t = citiusText.t, tf = citiusText.tf;
  const url = el.dataset.activity;
  const csrf = el.dataset.csrf;
  let typingUntil = 0;

  // In a chat from the website widget: marks the replies the visitor has read.
  function markSeen(upTo) {
    document.querySelectorAll(".message.reply[data-message-id]").forEach(function (m) {
      var seen = Number(m.dataset.messageId) <= upTo;
      var mark = m.querySelector(".seen-mark");
      if (seen && !mark) {
        mark = document.createElement("span");
        mark.className = "seen-mark";
        mark.textContent = t("script.seen");
        m.querySelector(".who").appendChild(mark);
      }
    });
  }

  function render(others, customer) {
    var parts = (others || []).map(function (o) {
      return o.activity === "typing" ? tf("script.typing_reply", { name: o.name }) : tf("script.viewing", { name: o.name });
    });
    if (customer && customer.typing) parts.unshift(t("script.customer_typing"));
    if (customer) markSeen(customer.read_up_to);
    el.hidden = parts.length === 0;
    // textContent only: names are other people's input.
    el.textContent = parts.join(" · ");
  }

  async function report(activity) {
    try {
      const r = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ activity: activity }),
      });
      if (r.ok) {
        var c = await r.json();
        render(c.others, c.customer);
      }
    } catch (_) {
      // Offline for a moment: the next tick tries again.
    }
  }

  function tick() {
    if (document.hidden) return;
    report(Date.now() < typingUntil ? "typing" : "viewing");
  }

  report("viewing");
  // Chats move fast: look more often while a visitor may be typing.
  setInterval(tick, document.querySelector("[data-channel=chat]") ? 2000 : 5000);
  const body = document.getElementById("body");
  if (body) {
    body.addEventListener("input", function () {
      const wasTyping = Date.now() < typingUntil;
      typingUntil = Date.now() + 4000;
      if (!wasTyping) report("typing");
    });
  }
  document.addEventListener("visibilitychange", tick);
  window.addEventListener("pagehide", function () {
    fetch(url, {
      method: "DELETE",
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRF-Token": csrf },
    }).catch(function () {});
  });
})();
