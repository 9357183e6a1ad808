// The words these scripts show come from the page: base.html renders them from the catalogue
// (locales/en.toml) as JSON, so translations follow. t("script.copy") is a text; tf() fills in
// its {placeholders}.
var citiusText = (function () {
  "use strict";
  var texts = {};
  try { texts = JSON.parse(document.getElementById("citius-text").textContent); } catch (e) { /* no block: keys show */ }
  var has = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
  var t = function (key) { return has(texts, key) ? texts[key] : key; };
  var tf = function (key, args) {
    return t(key).replace(/\{(\w+)\}/g, function (all, name) { return has(args, name) ? String(args[name]) : all; });
  };
  return { t: t, tf: tf };
})();

// Progressive enhancement: pages work without this script; with it they update live and answer
// to keyboard shortcuts.
(function () {
  "use strict";
  var t = citiusText.t, tf = citiusText.tf;

  // Live updates: the server pushes workspace events; the page re-fetches the part that changed.
  function refresh(el, url) {
    if (el.dataset.loading) { el.dataset.again = "1"; return; }
    el.dataset.loading = "1";
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        // Rows ticked for a bulk action stay ticked when the list refreshes.
        var ticked = Array.prototype.map.call(el.querySelectorAll("input.pick:checked"), function (i) { return i.value; });
        el.innerHTML = html;
        ticked.forEach(function (v) { var box = el.querySelector('input.pick[value="' + v + '"]'); if (box) box.checked = true; });
        el.classList.add("live-flash"); setTimeout(function () { el.classList.remove("live-flash"); }, 1300); })
      .catch(function () {})
      .finally(function () {
        delete el.dataset.loading;
        if (el.dataset.again) { delete el.dataset.again; refresh(el, url); }
      });
  }

  var list = document.querySelector("[data-live-list]");
  var timeline = document.querySelector("[data-live-timeline]");
  var conv = document.querySelector("[data-conversation]");
  if ((list || timeline) && window.EventSource) {
    var source = new EventSource("/api/v1/events");
    var handle = function (ev) {
      var data; try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (list) refresh(list, list.dataset.liveList);
      if (timeline && conv && String(data.conversation_id) === conv.dataset.conversation) refresh(timeline, timeline.dataset.liveTimeline);
    };
    ["created", "message_added", "assigned", "transferred", "status_changed", "priority_changed", "tagged", "untagged", "subject_changed", "customer_merged",
     "transfer_offered", "transfer_declined", "transfer_expired", "transfer_cancelled", "follow_up_added", "follow_up_done", "follow_up_due",
     "queued", "requeued", "overflowed", "sla_applied", "sla_warning", "sla_breached", "email_sent", "email_failed",
     "text_failed", "call_updated", "mentioned"]
      .forEach(function (k) { source.addEventListener(k, handle); });
  }

  // One-time secrets: focusing the field selects it, and a Copy button sits beside it.
  document.querySelectorAll("input[data-copy]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
    if (!navigator.clipboard) return;
    var row = document.createElement("div");
    row.className = "copy-row";
    input.parentNode.insertBefore(row, input);
    row.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = t("script.copy");
    var status = document.createElement("span");
    status.setAttribute("role", "status");
    status.className = "hint";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = t("script.copied"); },
        function () { input.focus(); status.textContent = t("script.copy_by_keyboard"); });
    });
    row.appendChild(button);
    row.appendChild(status);
  });

  // Transfer form: the message to the customer names whoever is picked, until it is edited;
  // promises get as many rows as needed.
  var transfer = document.getElementById("transfer-form");
  if (transfer) {
    var message = transfer.querySelector("#tr-message");
    var agent = transfer.querySelector("#tr-agent");
    var team = transfer.querySelector("#tr-team");
    var who = function (select) { var o = select && select.selectedOptions[0]; return o ? o.dataset.who : ""; };
    var suggest = function () {
      if (!message || !message.hasAttribute("data-suggested")) return;
      var name = who(agent) || who(team) || message.dataset.defaultWho;
      message.value = message.dataset.suggest.replace("{who}", name);
    };
    if (message) message.addEventListener("input", function () { message.removeAttribute("data-suggested"); });
    [agent, team].forEach(function (s) { if (s) s.addEventListener("change", suggest); });

    var rows = transfer.querySelector("#promise-rows");
    if (rows && rows.lastElementChild) {
      var add = document.createElement("button");
      add.type = "button";
      add.className = "small secondary";
      add.textContent = t("script.add_another_promise");
      var sync = function () { add.hidden = rows.children.length >= 10; };
      add.addEventListener("click", function () {
        var n = rows.children.length + 1;
        var row = rows.lastElementChild.cloneNode(true);
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; input.removeAttribute("aria-invalid"); });
        row.querySelectorAll("label").forEach(function (label) {
          var input = row.querySelector("#" + label.htmlFor);
          var id = label.htmlFor.replace(/\d+$/, String(n));
          label.htmlFor = id;
          if (input) input.id = id;
          if (/^tr-promise-/.test(id)) label.textContent = tf("script.promise_n", { n: n });
        });
        rows.appendChild(row);
        sync();
        row.querySelector("input").focus();
      });
      rows.parentNode.insertBefore(add, rows.nextSibling);
      sync();
    }
  }

  // Keyboard shortcuts; "?" lists them (the dialog in base.html). Keys typed into a field are
  // the field's, except Ctrl/Cmd+Enter (send) and Escape (leave the field).
  var dialog = document.getElementById("shortcuts");
  var helpButton = document.getElementById("shortcuts-button");
  var showHelp = function () { if (dialog && !dialog.open && dialog.showModal) dialog.showModal(); };
  if (helpButton && dialog && dialog.showModal) {
    document.getElementById("shortcuts-entry").hidden = false;
    helpButton.addEventListener("click", showHelp);
  }

  // The list's rows, and which one j/k last moved to (kept by id across live refreshes).
  var current = null;
  var rowLinks = function () { return Array.prototype.slice.call(document.querySelectorAll("#conversation-list a.conversation-row")); };
  var moveTo = function (step) {
    var links = rowLinks();
    if (!links.length) return;
    var at = links.findIndex(function (a) { return a.getAttribute("href") === current; });
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links.forEach(function (a) { a.classList.remove("kbd-current"); });
    current = links[next].getAttribute("href");
    links[next].classList.add("kbd-current");
    links[next].focus();
  };
  var currentLink = function () {
    var focused = document.activeElement;
    if (focused && focused.matches && focused.matches("a.conversation-row")) return focused;
    return rowLinks().filter(function (a) { return a.getAttribute("href") === current; })[0] || null;
  };
  // "a" and "e" send just the one field: the side form may hold values a colleague has changed
  // since the page loaded, and sending them all would quietly undo that.
  var updateOne = function (name, value) {
    var form = document.getElementById("update-form");
    var csrf = form && form.querySelector("input[name=_csrf]");
    if (!csrf || !value) return;
    var one = document.createElement("form");
    one.method = "post"; one.action = form.action; one.hidden = true;
    [["_csrf", csrf.value], [name, value]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      one.appendChild(input);
    });
    document.body.appendChild(one);
    one.submit();
  };
  var pendingG = false, gTimer = null;

  document.addEventListener("keydown", function (e) {
    var target = e.target, typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
    var body = document.getElementById("body");
    if (typing) {
      if (target === body && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); target.form.requestSubmit(); }
      if (e.key === "Escape" && target.blur) target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || (dialog && dialog.open)) return;
    if (pendingG) {
      pendingG = false; clearTimeout(gTimer);
      var to = { i: "/inbox", m: "/mentions" }[e.key];
      if (to) { e.preventDefault(); window.location.assign(to); }
      return;
    }
    switch (e.key) {
      case "?": e.preventDefault(); showHelp(); break;
      case "/": var q = document.getElementById("q"); if (q) { e.preventDefault(); q.focus(); } break;
      case "g": pendingG = true; gTimer = setTimeout(function () { pendingG = false; }, 1500); break;
      case "j": e.preventDefault(); moveTo(1); break;
      case "k": e.preventDefault(); moveTo(-1); break;
      case "o": var open = currentLink(); if (open) { e.preventDefault(); window.location.assign(open.href); } break;
      case "x":
        var row = currentLink(), box = row && row.parentNode.querySelector("input.pick");
        if (box) { e.preventDefault(); box.checked = !box.checked; }
        break;
      case "r": case "n":
        if (!body) break;
        e.preventDefault();
        var radio = document.querySelector('input[name=kind][value="' + (e.key === "r" ? "reply" : "note") + '"]');
        if (radio) radio.checked = true;
        body.focus();
        break;
      case "a":
        var me = document.querySelector("#assignee option[data-me]");
        if (me) { e.preventDefault(); updateOne("assignee_id", me.value); }
        break;
      case "e": if (document.getElementById("update-form")) { e.preventDefault(); updateOne("status", "resolved"); } break;
    }
  });

  // A list re-rendered by a live update keeps the row j/k had reached marked.
  if (list) new MutationObserver(function () {
    rowLinks().forEach(function (a) { if (a.getAttribute("href") === current) a.classList.add("kbd-current"); });
  }).observe(list, { childList: true });

})();

// Presence: the status menu returns to this page, closes with Escape or a click elsewhere, and
// while the user is online the page tells the server every minute that they are still here.
(function () {
  "use strict";
  var menu = document.getElementById("presence-menu");
  if (!menu) return;
  var back = menu.querySelector("input[name=back]");
  if (back) back.value = location.pathname + location.search;
  var summary = menu.querySelector("summary");
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && menu.open) { menu.open = false; if (summary) summary.focus(); }
  });
  document.addEventListener("click", function (e) {
    if (menu.open && !menu.contains(e.target)) menu.open = false;
  });

  if (menu.dataset.presence !== "online" || !window.fetch) return;
  var meta = document.querySelector("meta[name=csrf-token]");
  var token = meta ? meta.getAttribute("content") : "";
  var EVERY = 60000, KEY = "citius.heartbeat";
  // Tabs share the last beat, so several open pages (or quick page changes) send one a minute.
  var last = function () { try { return Number(localStorage.getItem(KEY)) || 0; } catch (e) { return 0; } };
  var timer;
  var beat = function () {
    if (Date.now() - last() < EVERY - 5000) return;
    try { localStorage.setItem(KEY, String(Date.now())); } catch (e) { /* private mode: beat anyway */ }
    fetch("/api/v1/presence/heartbeat", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": token } })
      .then(function (r) { if (r.status === 401 || r.status === 403) clearInterval(timer); })
      .catch(function () {});
  };
  beat();
  timer = setInterval(beat, EVERY);
})();

// Routing policy form: skill rules get as many rows as needed.
(function () {
  "use strict";
  var t = citiusText.t, tf = citiusText.tf;
  var rows = document.getElementById("rule-rows");
  if (!rows || !rows.lastElementChild) return;
  var max = Number(rows.dataset.max) || 50;
  var add = document.createElement("button");
  add.type = "button";
  add.className = "small secondary";
  add.textContent = t("script.add_another_rule");
  var sync = function () { add.hidden = rows.children.length >= max; };
  add.addEventListener("click", function () {
    var n = rows.children.length + 1;
    var row = rows.lastElementChild.cloneNode(true);
    var renumber = function (v) { return v.replace(/^(rule[-_])\d+(?=[-_])/, "$1" + n); };
    row.querySelectorAll(".field-error, .rule-remove").forEach(function (el) { el.remove(); });
    row.querySelectorAll("input, select").forEach(function (el) {
      el.id = renumber(el.id);
      el.name = renumber(el.name);
      el.removeAttribute("aria-invalid");
      el.removeAttribute("autofocus");
      var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id && !/^rule-\d+-error$/.test(id); });
      if (described.length) el.setAttribute("aria-describedby", described.join(" ")); else el.removeAttribute("aria-describedby");
      if (el.tagName === "SELECT") el.selectedIndex = 0; else el.value = "";
    });
    row.querySelectorAll("label[for]").forEach(function (label) { label.htmlFor = renumber(label.htmlFor); });
    var legend = row.querySelector("legend");
    if (legend) legend.textContent = tf("script.rule_n", { n: n });
    rows.appendChild(row);
    sync();
    row.querySelector("select, input").focus();
  });
  rows.parentNode.insertBefore(add, rows.nextSibling);
  var hint = document.getElementById("rule-rows-hint");
  if (hint) hint.textContent = t("script.rows_left_empty");
  sync();
})();
