// The chat a visitor sees inside the frame: starts or resumes the visitor, shows the
// conversation live (server-sent events), reports typing and what was read, sends text and
// files, asks for an email once, and offers the offline form when nobody is online.
(function () {
  "use strict";
  var key = document.body.dataset.key;
  var store = "citius-visitor:" + key;
  var token = null;
  var lastId = 0;
  var lastAgentId = 0;
  var lastVisitorId = 0;
  var seenUpTo = 0;
  var asked = false;
  var $ = function (id) { return document.getElementById(id); };
  var list = $("messages");
  // Words from the frame's catalogue block (widget_frame.html renders them from locales/en.toml).
  var texts = {};
  try { texts = JSON.parse(document.getElementById("citius-text").textContent); } catch (e) { /* no block: keys show */ }
  var has = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
  var t = function (key) { return has(texts, key) ? texts[key] : key; };

  function remembered() {
    try { return localStorage.getItem(store); } catch (_) { return null; }
  }
  function remember(t) {
    try { localStorage.setItem(store, t); } catch (_) { /* private mode: this tab only */ }
  }

  function showError(text) {
    var e = $("error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  async function call(method, path, body, isForm) {
    var headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body && !isForm) headers["Content-Type"] = "application/json";
    var r = await fetch("/widget/v1" + path, {
      method: method,
      headers: headers,
      body: body ? (isForm ? body : JSON.stringify(body)) : undefined,
    });
    if (!r.ok) {
      var message = t("widget_script.went_wrong");
      try { message = (await r.json()).error.message || message; } catch (_) { /* not JSON */ }
      if (r.status === 429) message = t("widget_script.too_fast");
      throw new Error(message);
    }
    return r.status === 204 ? null : r.json();
  }

  function renderSeen() {
    var old = list.querySelector(".seen");
    if (old) old.remove();
    if (lastVisitorId && seenUpTo >= lastVisitorId) {
      var li = document.createElement("li");
      li.className = "seen";
      li.textContent = t("widget_script.seen");
      list.appendChild(li);
    }
  }

  var shown = new Set();
  function add(m) {
    if (shown.has(m.id)) return;
    shown.add(m.id);
    lastId = Math.max(lastId, m.id);
    if (m.from === "agent") lastAgentId = m.id; else lastVisitorId = m.id;
    var li = document.createElement("li");
    li.className = m.from;
    li.dataset.id = m.id;
    if (m.from === "agent" && m.author) {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = m.author; // textContent only: names and messages are never markup here
      li.appendChild(who);
    }
    li.appendChild(document.createTextNode(m.text));
    (m.files || []).forEach(function (f) {
      var a = document.createElement("a");
      a.href = "/widget/v1/files/" + f.id + "?token=" + encodeURIComponent(token);
      a.textContent = f.filename;
      a.setAttribute("download", f.filename);
      li.appendChild(document.createElement("br"));
      li.appendChild(a);
    });
    list.appendChild(li);
    renderSeen();
    list.scrollTop = list.scrollHeight;
  }

  async function refresh() {
    var got = await call("GET", "/messages?after=" + lastId);
    got.items.forEach(add);
    markRead();
  }

  var readSent = 0;
  function markRead() {
    if (document.hidden || lastAgentId <= readSent) return;
    readSent = lastAgentId;
    call("POST", "/read", { up_to: lastAgentId }).catch(function () {});
  }

  function applyState(st) {
    $("typing").hidden = !st.agent_typing;
    $("online").textContent = st.agents_online ? "· " + t("widget_script.online") : "· " + t("widget_script.away");
    if (st.seen_up_to !== seenUpTo) {
      seenUpTo = st.seen_up_to;
      renderSeen();
    }
  }

  var source = null;
  function listen() {
    if (source) source.close();
    source = new EventSource("/widget/v1/events?token=" + encodeURIComponent(token));
    source.addEventListener("message", function () { refresh().catch(function () {}); });
    source.addEventListener("state", function (e) {
      try { applyState(JSON.parse(e.data)); } catch (_) { /* ignore */ }
    });
  }

  var typingSent = 0;
  $("text").addEventListener("input", function () {
    if (Date.now() - typingSent < 3000) return;
    typingSent = Date.now();
    call("POST", "/typing", { typing: true }).catch(function () {});
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("file").addEventListener("change", function () {
    var f = $("file").files[0];
    $("file-name").textContent = f ? f.name : "";
  });

  $("composer").addEventListener("submit", async function (e) {
    e.preventDefault();
    var text = $("text").value.trim();
    var f = $("file").files[0];
    if (!text && !f) return;
    $("send").disabled = true;
    try {
      var m;
      if (f) {
        var form = new FormData();
        form.append("body", text);
        form.append("file", f);
        m = await call("POST", "/messages", form, true);
      } else {
        m = await call("POST", "/messages", { body: text });
      }
      $("text").value = "";
      $("file").value = "";
      $("file-name").textContent = "";
      typingSent = 0;
      showError("");
      var first = lastId === 0;
      // Fetch rather than add: a reply that arrived meanwhile must not be skipped.
      await refresh();
      if (!shown.has(m.id)) add(m);
      // The stream watches the conversation closely once there is one.
      if (first) listen();
      if (!asked) {
        asked = true;
        $("identify").hidden = false;
      }
    } catch (err) {
      showError(err.message);
    } finally {
      $("send").disabled = false;
      $("text").focus();
    }
  });

  $("identify").addEventListener("submit", async function (e) {
    e.preventDefault();
    try {
      await call("POST", "/identify", { email: $("id-email").value, name: $("id-name").value || null });
      $("identify").hidden = true;
      showError("");
    } catch (err) {
      showError(err.message);
    }
  });

  $("offline").addEventListener("submit", async function (e) {
    e.preventDefault();
    try {
      await call("POST", "/offline", {
        key: key,
        name: $("off-name").value || null,
        email: $("off-email").value,
        body: $("off-body").value,
      });
      $("offline").hidden = true;
      $("offline-sent").hidden = false;
      showError("");
    } catch (err) {
      showError(err.message);
    }
  });

  $("close").addEventListener("click", function () {
    window.parent.postMessage("citius:close", "*");
  });
  document.addEventListener("visibilitychange", markRead);

  async function start() {
    try {
      var s = await call("POST", "/sessions", { key: key, token: remembered() });
      token = s.token;
      remember(token);
      document.documentElement.style.setProperty("--accent", s.color);
      $("inbox-name").textContent = s.inbox_name;
      $("greeting").textContent = s.greeting;
      $("online").textContent = s.agents_online ? "· " + t("widget_script.online") : "· " + t("widget_script.away");
      if (!s.agents_online && !s.conversation_id) {
        $("composer").hidden = true;
        $("offline").hidden = false;
        return;
      }
      asked = !!s.conversation_id;
      await refresh();
      listen();
      $("text").focus();
    } catch (err) {
      showError(err.message);
    }
  }
  start();
})();
