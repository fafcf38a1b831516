// The simulated subscriber's phone. Messages go to /sim/send, which makes a real signed HTTP
// request to the webhook; pushes come from polling the fake WeChat API's record of calls.
// Every piece of text is set with textContent, never as HTML, and only http(s) links are used.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const chat = $("chat"), accountSel = $("account"), openidInput = $("openid"), aesBox = $("aes");
  const POLL_MS = 2000, MENU_MS = 15000;
  let lastCallId = 0, menuJson = "", queue = Promise.resolve();

  // -- small helpers -------------------------------------------------------------------
  function stored(key, fallback) {
    try { return localStorage.getItem(key) || fallback; } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* private mode: not kept */ }
  }
  function randomOpenid() {
    const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "sim-" + Array.from(bytes, (b) => chars[b % chars.length]).join("");
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function safeUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) { return null; }
  }
  function account() { return accountSel.options[accountSel.selectedIndex] || null; }
  function openid() { return openidInput.value.trim(); }
  async function getJson(url, options) {
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  // -- the chat ------------------------------------------------------------------------
  function row(mine, child) {
    const r = el("div", "row" + (mine ? " me" : ""));
    r.appendChild(el("div", "avatar", mine ? "我" : "公"));
    const body = el("div", "body");
    body.appendChild(child);
    r.appendChild(body);
    chat.appendChild(r);
    chat.scrollTop = chat.scrollHeight;
    return body;
  }
  function system(text) {
    const line = el("div", "system");
    line.appendChild(el("span", "", text));
    chat.appendChild(line);
    chat.scrollTop = chat.scrollHeight;
  }
  function card(article, extraClass) {
    const url = safeUrl(article.url);
    const node = el(url ? "a" : "div", "card" + (extraClass ? " " + extraClass : ""));
    if (url) { node.href = url; node.target = "_blank"; node.rel = "noopener noreferrer"; }
    if (extraClass === "push") node.appendChild(el("span", "tag", "推送"));
    node.appendChild(el("strong", "", article.title || "（无标题）"));
    if (article.description) node.appendChild(el("span", "desc", article.description));
    node.appendChild(el("span", "link", url ? "阅读全文" : "（没有链接）"));
    return node;
  }
  function details(reply) {
    const box = el("details", "meta");
    box.appendChild(el("summary", "", reply.status + " · " + reply.elapsed_ms + " ms · 原始消息"));
    box.appendChild(el("div", "", "发送的 XML："));
    box.appendChild(el("pre", "", reply.request_xml));
    box.appendChild(el("div", "", "收到的回复："));
    box.appendChild(el("pre", "", reply.raw || "（空）"));
    if (reply.reply_xml && reply.reply_xml !== reply.raw) {
      box.appendChild(el("div", "", "解密后的回复："));
      box.appendChild(el("pre", "", reply.reply_xml));
    }
    return box;
  }
  // A text reply as WeChat shows it: dialog-menu links (weixin://bizmsgmenu) become buttons
  // that send their text, http(s) addresses become links; everything else stays text.
  const RICH = /<a href="weixin:\/\/bizmsgmenu\?msgmenucontent=([^"&]*)&(?:amp;)?msgmenuid=(\d+)">([^<]*)<\/a>|https?:\/\/[^\s<>"“”，。]+/g;
  const ENTITIES = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'", "&amp;": "&" };
  function unescapeHtml(text) {
    return String(text).replace(/&(?:lt|gt|quot|amp|#x27|#39);/g, (entity) => ENTITIES[entity]);
  }
  function richText(text) {
    const bubble = el("div", "bubble");
    let at = 0;
    String(text).replace(RICH, (match, content, menuId, label, offset) => {
      bubble.appendChild(document.createTextNode(text.slice(at, offset)));
      at = offset + match.length;
      if (menuId !== undefined) {
        const sent = unescapeHtml(content);
        const b = el("button", "choice", unescapeHtml(label));
        b.type = "button";
        b.addEventListener("click", () => {
          row(true, el("div", "bubble", sent));
          send({ kind: "text", text: sent, menuid: menuId });
        });
        bubble.appendChild(b);
      } else {
        const url = safeUrl(match);
        const a = el(url ? "a" : "span", "", match);
        if (url) { a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer"; }
        bubble.appendChild(a);
      }
      return match;
    });
    bubble.appendChild(document.createTextNode(text.slice(at)));
    return bubble;
  }
  function showReply(reply) {
    let body;
    if (reply.kind === "text") {
      body = row(false, richText(reply.text || ""));
    } else if (reply.kind === "news") {
      const a = reply.article || {};
      body = row(false, card({ title: a.Title, description: a.Description, url: a.Url }));
    } else if (reply.kind === "success") {
      system("（公众号没有被动回复：success）");
      const line = el("div", "system");
      line.appendChild(details(reply));
      chat.appendChild(line);
      return;
    } else if (reply.kind === "error") {
      body = row(false, el("div", "bubble error", "错误 " + reply.status + "：" + reply.text));
    } else {
      body = row(false, el("div", "bubble", "［" + reply.kind + " 消息］"));
    }
    body.appendChild(details(reply));
  }

  // -- sending -------------------------------------------------------------------------
  async function post(payload) {
    const opt = account();
    payload.account = opt ? opt.value : "default";
    payload.openid = openid();
    payload.aes = aesBox.checked;
    const waiting = row(false, el("div", "bubble pending", "…"));
    let result;
    try {
      result = await getJson("send", { method: "POST", body: JSON.stringify(payload),
                                       headers: { "Content-Type": "application/json" } });
    } catch (e) {
      result = { ok: false, status: 0, data: { error: "网络错误：" + e } };
    }
    waiting.parentNode.remove();
    if (!result.ok || !result.data || result.data.error) {
      const why = (result.data && result.data.error) || "HTTP " + result.status;
      row(false, el("div", "bubble error", "没有发出：" + why));
      return;
    }
    showReply(result.data);
  }
  function send(payload) {  // one at a time, so replies appear in order
    queue = queue.then(() => post(payload));
    return queue;
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    if (!openid()) { system("请先填写 openid"); return; }
    row(true, el("div", "bubble", text));
    $("text").value = "";
    send({ kind: "text", text: text });
  });
  $("follow").addEventListener("click", () => {
    system("你关注了公众号");
    send({ kind: "event", event: "subscribe" });
  });
  $("unfollow").addEventListener("click", () => {
    system("你取消了关注");
    send({ kind: "event", event: "unsubscribe" });
  });
  $("clear").addEventListener("click", () => { chat.textContent = ""; });

  // -- the menu ------------------------------------------------------------------------
  function pressMenu(button) {
    document.querySelectorAll("#menu .top.open").forEach((n) => n.classList.remove("open"));
    if (button.type === "click") {
      system("点击菜单：" + button.name);
      send({ kind: "event", event: "CLICK", key: button.key || "" });
    } else if (button.type === "view") {
      const url = safeUrl(button.url);
      system("打开网页：" + button.name);
      send({ kind: "event", event: "VIEW", key: button.url || "" });
      if (url) window.open(url, "_blank", "noopener");
    } else {
      system("模拟器不支持这种菜单：" + button.type);
    }
  }
  function menuButton(button, parent) {
    const b = el("button", "", button.name);
    b.type = "button";
    b.addEventListener("click", () => pressMenu(button));
    parent.appendChild(b);
  }
  function renderMenu(menu) {
    const nav = $("menu");
    nav.textContent = "";
    (menu.button || []).forEach((top) => {
      const wrap = el("div", "top");
      if (Array.isArray(top.sub_button) && top.sub_button.length) {
        const toggle = el("button", "", "≡ " + top.name);
        toggle.type = "button";
        toggle.addEventListener("click", () => wrap.classList.toggle("open"));
        const subs = el("div", "subs");
        top.sub_button.forEach((sub) => menuButton(sub, subs));
        wrap.appendChild(subs);
        wrap.appendChild(toggle);
      } else {
        menuButton(top, wrap);
      }
      nav.appendChild(wrap);
    });
  }
  async function loadMenu() {
    const opt = account();
    try {
      const result = await getJson("menu?account=" + encodeURIComponent(opt ? opt.value : "default"));
      if (!result.ok || !result.data) return;
      const json = JSON.stringify(result.data);
      if (json !== menuJson) { menuJson = json; renderMenu(result.data); }
    } catch (e) { /* the server may be restarting; keep the old menu */ }
  }

  // -- pushes (customer-service and template messages) ---------------------------------
  function showTemplate(body) {
    const bubble = el("div", "bubble push");
    bubble.appendChild(el("span", "tag", "推送 · 模板消息"));
    Object.entries(body.data || {}).forEach(([name, field]) => {
      const line = el("span", "line");
      line.appendChild(el("b", "", name + "："));
      line.appendChild(document.createTextNode(field && field.value !== undefined ? field.value : ""));
      bubble.appendChild(line);
    });
    const url = safeUrl(body.url);
    if (url) {
      const link = el("a", "line", "详情");
      link.href = url; link.target = "_blank"; link.rel = "noopener noreferrer";
      bubble.appendChild(link);
    }
    row(false, bubble);
  }
  function showPush(call) {
    const body = call.body || {};
    if (call.path === "message/template/send") { showTemplate(body); return; }
    if (body.msgtype === "news" && body.news && Array.isArray(body.news.articles)) {
      const a = body.news.articles[0] || {};
      row(false, card({ title: a.title, description: a.description, url: a.url }, "push"));
      return;
    }
    const bubble = el("div", "bubble push");
    bubble.appendChild(el("span", "tag", "推送"));
    const text = body.msgtype === "text" && body.text ? body.text.content : "［" + body.msgtype + " 消息］";
    bubble.appendChild(document.createTextNode(text));
    row(false, bubble);
  }
  function isPushForMe(call) {
    const opt = account();
    const paths = ["message/custom/send", "message/template/send"];
    return paths.includes(call.path) && call.errcode === 0 && call.body &&
      call.body.touser === openid() && (!opt || call.appid === opt.dataset.appid);
  }
  async function poll() {
    if (!openid()) return;
    try {
      const url = "api/_calls?touser=" + encodeURIComponent(openid()) + "&since=" + lastCallId;
      const result = await getJson(url);
      if (!result.ok || !Array.isArray(result.data)) return;
      result.data.forEach((call) => {
        lastCallId = Math.max(lastCallId, call.id);
        if (isPushForMe(call)) showPush(call);
      });
    } catch (e) { /* the server may be restarting */ }
  }
  async function skipEarlierPushes() {
    try {
      const result = await getJson("api/_calls?limit=1");
      if (result.ok && Array.isArray(result.data) && result.data.length) {
        lastCallId = Math.max(lastCallId, result.data[result.data.length - 1].id);
      }
    } catch (e) { /* no fake API: no pushes */ }
  }

  // -- settings ------------------------------------------------------------------------
  function accountChanged() {
    const opt = account();
    $("title").textContent = opt ? opt.dataset.title : "";
    aesBox.disabled = !opt || opt.dataset.aes !== "1";
    if (aesBox.disabled) aesBox.checked = false;
    store("sim.account", opt ? opt.value : "");
    menuJson = "";
    loadMenu();
  }
  openidInput.value = stored("sim.openid", "") || randomOpenid();
  store("sim.openid", openidInput.value);
  openidInput.addEventListener("change", () => {
    const value = openid() || randomOpenid();
    openidInput.value = value;
    store("sim.openid", value);
    chat.textContent = "";
    system("现在的身份：" + value);
  });
  accountSel.value = stored("sim.account", accountSel.value);
  if (accountSel.selectedIndex < 0) accountSel.selectedIndex = 0;
  accountSel.addEventListener("change", accountChanged);
  aesBox.checked = stored("sim.aes", "") === "1";
  aesBox.addEventListener("change", () => store("sim.aes", aesBox.checked ? "1" : ""));

  async function start() {
    accountChanged();
    system("这是模拟的微信客户端：每条消息都经过签名的 HTTP 请求发送到真实的 webhook。");
    await skipEarlierPushes();
    setInterval(poll, POLL_MS);
    setInterval(loadMenu, MENU_MS);
  }
  start();
})();
