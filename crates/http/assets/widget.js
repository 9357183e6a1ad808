// Citius live chat: add this script to a page with data-citius-key set to the widget's key.
// It adds a launcher button and opens the chat in a frame served by Citius (so nothing from
// the chat touches the page, and the page cannot read the chat).
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__citiusChat) return;
  window.__citiusChat = true;
  var key = me.getAttribute("data-citius-key");
  if (!key) return;
  var base = new URL(me.src).origin;
  var color = me.getAttribute("data-color") || "#1d5fbf";
  // The launcher's words: the server fills them in from its catalogue (locales/en.toml) when it
  // serves this script.
  var texts = /*citius-text*/{};
  var t = function (key) { return Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key; };

  var button = document.createElement("button");
  button.type = "button";
  button.id = "citius-chat-launcher";
  button.setAttribute("aria-label", t("widget_script.open_the_chat"));
  button.setAttribute("aria-expanded", "false");
  button.textContent = t("widget_script.chat");
  var b = button.style;
  b.position = "fixed"; b.right = "20px"; b.bottom = "20px"; b.zIndex = "2147483646";
  b.background = color; b.color = "#fff"; b.border = "0"; b.borderRadius = "24px";
  b.padding = "12px 20px"; b.font = "600 15px system-ui, sans-serif"; b.cursor = "pointer";
  b.boxShadow = "0 4px 14px rgba(0,0,0,.25)";

  var frame = null;
  function place() {
    if (!frame) return;
    var s = frame.style;
    var phone = window.innerWidth <= 480;
    s.position = "fixed"; s.zIndex = "2147483647"; s.border = "0"; s.background = "#fff";
    s.right = phone ? "0" : "20px"; s.bottom = phone ? "0" : "84px";
    s.width = phone ? "100%" : "370px"; s.height = phone ? "100%" : "560px";
    s.maxHeight = phone ? "100%" : "calc(100% - 104px)";
    s.borderRadius = phone ? "0" : "12px"; s.boxShadow = "0 8px 30px rgba(0,0,0,.25)";
  }
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "citius-chat-frame";
      frame.title = t("widget_script.chat_with_us");
      frame.src = base + "/widget/frame?key=" + encodeURIComponent(key);
      frame.setAttribute("allow", "clipboard-write");
      document.body.appendChild(frame);
      place();
    }
    frame.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (window.innerWidth <= 480) button.hidden = true;
  }
  function close() {
    if (frame) frame.hidden = true;
    button.hidden = false;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () {
    if (frame && !frame.hidden) close(); else open();
  });
  window.addEventListener("message", function (e) {
    if (e.origin !== base || !frame || e.source !== frame.contentWindow) return;
    if (e.data === "citius:close") close();
  });
  window.addEventListener("resize", place);
  function mount() { document.body.appendChild(button); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
