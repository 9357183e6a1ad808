// Collision detection: tells the server this agent is viewing (or typing in) the conversation,
// and shows who else is, so two people do not answer the same customer at once.
(function () {
  "use strict";
  const el = document.getElementById("activity");
  if (!el) return;
  const url = el.dataset.activity;
  const csrf = el.dataset.csrf;
  let typingUntil = 0;

  function render(others) {
    if (!others || others.length === 0) {
      el.hidden = true;
      el.textContent = "";
      return;
    }
    el.hidden = false;
    // textContent only: names are other people's input.
    el.textContent = others
      .map((o) => (o.activity === "typing" ? o.name + " is typing a reply…" : o.name + " is viewing"))
      .join(" · ");
  }

  async function report(activity) {
    try {
      const r = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ activity: activity }),
      });
      if (r.ok) render((await r.json()).others);
    } catch (_) {
      // Offline for a moment: the next tick tries again.
    }
  }

  function tick() {
    if (document.hidden) return;
    report(Date.now() < typingUntil ? "typing" : "viewing");
  }

  report("viewing");
  setInterval(tick, 5000);
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
